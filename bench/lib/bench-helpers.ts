// What the TypeScript benches share: elapsed milliseconds, and a seeded generator so every run builds the same
// synthetic medium (the figures of two builds compare only on equal inputs).

/** Milliseconds since `t0` (process.hrtime.bigint()). */
export function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A linear congruential generator from `seed`: each call an integer in [0, n). */
export function seededRandom(seed: number): (n: number) => number {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}
