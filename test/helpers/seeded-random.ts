// Randomised tests draw from a seeded generator, never Math.random: a failure must come back on the next run.

/** xorshift32 (Marsaglia): the next 32-bit value (unsigned) on each call. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Integers in [0, n) from a fixed seed (the C library's rand() LCG, 31 bits). */
export function seededInts(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
}

/** `n` bytes from a fixed seed: the top byte of each step of the same LCG taken modulo 2^32. */
export function lcgBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
