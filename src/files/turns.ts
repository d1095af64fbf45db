// The file report's work over a large disk (a million files) is written once, as generators that yield between
// batches: run to the end at once where nothing else waits (the offline report, a CLI's own process), or one batch
// per event-loop turn in the mount server, whose loop serves every FUSE read of the mount.
import { setImmediate as nextTurn } from 'timers/promises';

/** Entries handled between two yields: ~5-30 ms of the report's per-entry work on a slow core. */
export const BATCH = 5_000;

/** Work that yields between batches and returns T. */
export type Steps<T> = Generator<void, T, void>;

export function runAtOnce<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export async function runInTurns<T>(steps: Steps<T>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}

/**
 * 0..keys.length-1 ordered by key, equal keys in index order (as a stable Array.prototype.sort would): a bottom-up
 * merge sort, since one sort() call over two million runs would hold the loop for a second.
 */
export function* sortedOrder(keys: Float64Array): Steps<Int32Array> {
  const n = keys.length;
  let order = new Int32Array(n);
  for (let start = 0; start < n; start += BATCH) {
    const slice = Array.from({ length: Math.min(BATCH, n - start) }, (_, k) => start + k).sort((a, b) => keys[a] - keys[b]);
    order.set(slice, start);
    yield;
  }
  let spare = new Int32Array(n);
  for (let width = BATCH; width < n; width *= 2) {
    let moved = 0;
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let [a, b, out] = [lo, mid, lo];
      while (out < hi) {
        // <=: of equal keys the left half's (lower indices) first, keeping the order stable.
        spare[out++] = b >= hi || (a < mid && keys[order[a]] <= keys[order[b]]) ? order[a++] : order[b++];
        if (++moved % BATCH === 0) yield;
      }
    }
    [order, spare] = [spare, order];
  }
  return order;
}
