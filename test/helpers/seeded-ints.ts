// Randomised tests draw from a seeded generator, never Math.random: a failure must come back on the next run.

/** Integers in [0, n) from a fixed seed (the C library's rand() LCG, 31 bits). */
export function seededInts(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
}
