// The damaged byte ranges the fixity ledger (fixity.ts) knows of, sorted by where they start: every read asks
// whether it touches one, and a cache whose data file was partly overwritten can have thousands of them, so the
// answer is a binary search, not a walk over all of them.

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * Ranges keyed by their first byte (setting one at the same offset replaces it), in offset order. They need not be
 * disjoint: `reach[i]` is the furthest end among ranges 0..i, which makes it non-decreasing, so the first range
 * overlapping a span is found by one binary search over it.
 */
export class DamagedRanges<R extends ByteRange> {
  private ranges: R[] = [];
  private reach: number[] = [];

  get size(): number {
    return this.ranges.length;
  }

  /** In offset order. */
  values(): readonly R[] {
    return this.ranges;
  }

  set(range: R): void {
    const i = this.firstAtOrAfter(range.offset);
    if (i < this.ranges.length && this.ranges[i].offset === range.offset) this.ranges[i] = range;
    else this.ranges.splice(i, 0, range);
    this.updateReach(i);
  }

  /** The first range (by offset) sharing a byte with [from, to), if any. */
  firstOverlapping(from: number, to: number): R | undefined {
    // The first range reaching past `from`: every range before it ends at or before `from`, it itself ends after it
    // (reach rises there), and every range after it starts no earlier than it does.
    let lo = 0;
    let hi = this.reach.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.reach[mid] > from) hi = mid;
      else lo = mid + 1;
    }
    const r = this.ranges[lo];
    return r !== undefined && r.offset < to ? r : undefined;
  }

  /** Removes every range sharing a byte with [from, to). */
  deleteOverlapping(from: number, to: number): void {
    const first = this.firstOverlapping(from, to);
    if (!first) return;
    const i = this.ranges.indexOf(first);
    const kept = this.ranges.slice(i).filter((r) => !(r.offset < to && r.offset + r.length > from));
    this.ranges = this.ranges.slice(0, i).concat(kept);
    this.updateReach(i);
  }

  private firstAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid].offset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Recomputes reach from index i on (ranges are mostly added in offset order: then only the last entry). */
  private updateReach(i: number): void {
    if (this.reach.length > this.ranges.length) this.reach.length = this.ranges.length;
    for (let k = i; k < this.ranges.length; k++) {
      const end = this.ranges[k].offset + this.ranges[k].length;
      this.reach[k] = k > 0 ? Math.max(this.reach[k - 1], end) : end;
    }
  }
}
