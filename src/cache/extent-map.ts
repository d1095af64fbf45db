// Sector state as run-length extents (blkcache's "transitions" idea, kept compacted): a 4 TB disk with a few
// thousand state changes costs a few thousand entries, never one per sector. Lookups are binary searches;
// updates splice a handful of entries (a memmove for 100,000+ runs is microseconds).

/** GNU ddrescue block statuses (Sblock::Status): non-tried, non-trimmed, non-scraped, bad sector(s), finished. */
export type SectorStatus = '?' | '*' | '/' | '-' | '+';
export const SECTOR_STATUSES: readonly SectorStatus[] = ['?', '*', '/', '-', '+'];

export function isSectorStatus(ch: string): ch is SectorStatus {
  return ch === '?' || ch === '*' || ch === '/' || ch === '-' || ch === '+';
}

export interface Run<V> {
  readonly start: number;
  readonly count: number;
  readonly status: V;
}
export type Extent = Run<SectorStatus>;

/** A run still being built (a list of runs made from a mapfile's byte blocks). */
export type GrowingRun<V> = { start: number; count: number; status: V };

/** Appends [start, end) as `status` to `runs`, extending the last run when it ends at `start` with that status. */
export function appendRun<V>(runs: GrowingRun<V>[], start: number, end: number, status: V): void {
  if (end <= start) return;
  const last = runs[runs.length - 1];
  if (last && last.status === status && last.start + last.count === start) last.count += end - start;
  else runs.push({ start, count: end - start, status });
}

/** Runs per chunk before a chunk is split: keeps every splice a small memmove, even with millions of runs. */
const CHUNK_MAX = 1024;

interface Chunk<V> {
  starts: number[];
  values: V[];
}

/**
 * A total map from [0, length) to values, stored as maximal runs (adjacent runs always hold different values).
 * Runs live in chunks of at most CHUNK_MAX, found by binary search over the chunks' first starts and then within
 * the chunk, so lookups are O(log n) and an update touches a few hundred entries at most.
 */
export class RunLengthMap<V> {
  private chunks: Chunk<V>[];
  /** chunks[c].starts[0], for the binary search. */
  private firsts: number[];
  private total: number;
  private version = 0;
  private snapshot: { version: number; runs: readonly Run<V>[] } | undefined;

  constructor(
    readonly length: number,
    initial: V,
  ) {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad map length ${length}`);
    this.chunks = length > 0 ? [{ starts: [0], values: [initial] }] : [];
    this.firsts = length > 0 ? [0] : [];
    this.total = length > 0 ? 1 : 0;
  }

  get runCount(): number {
    return this.total;
  }

  /** (chunk, index) of the run containing p (0 <= p < length). */
  private locate(p: number): [number, number] {
    const f = this.firsts;
    let lo = 0;
    let hi = f.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (f[mid] <= p) lo = mid;
      else hi = mid - 1;
    }
    const st = this.chunks[lo].starts;
    let a = 0;
    let b = st.length - 1;
    while (a < b) {
      const mid = (a + b + 1) >>> 1;
      if (st[mid] <= p) a = mid;
      else b = mid - 1;
    }
    return [lo, a];
  }

  private endOf(c: number, i: number): number {
    const ch = this.chunks[c];
    if (i + 1 < ch.starts.length) return ch.starts[i + 1];
    return c + 1 < this.chunks.length ? this.chunks[c + 1].starts[0] : this.length;
  }

  private prev(c: number, i: number): [number, number] | undefined {
    if (i > 0) return [c, i - 1];
    return c > 0 ? [c - 1, this.chunks[c - 1].starts.length - 1] : undefined;
  }

  private next(c: number, i: number): [number, number] | undefined {
    if (i + 1 < this.chunks[c].starts.length) return [c, i + 1];
    return c + 1 < this.chunks.length ? [c + 1, 0] : undefined;
  }

  private checkPos(p: number): void {
    if (!Number.isSafeInteger(p) || p < 0 || p >= this.length) throw new RangeError(`position ${p} outside [0, ${this.length})`);
  }

  valueAt(p: number): V {
    this.checkPos(p);
    const [c, i] = this.locate(p);
    return this.chunks[c].values[i];
  }

  /** The maximal run containing p. */
  runAt(p: number): Run<V> {
    this.checkPos(p);
    const [c, i] = this.locate(p);
    const start = this.chunks[c].starts[i];
    return { start, count: this.endOf(c, i) - start, status: this.chunks[c].values[i] };
  }

  /** Runs intersecting [start, start+count), clipped to that range. */
  runs(start = 0, count = this.length - start): Run<V>[] {
    const end = Math.min(this.length, start + count);
    const out: Run<V>[] = [];
    if (start >= end) return out;
    this.checkPos(start);
    for (let [c, i] = this.locate(start); c < this.chunks.length; c++, i = 0) {
      const ch = this.chunks[c];
      for (; i < ch.starts.length; i++) {
        if (ch.starts[i] >= end) return out;
        const s = Math.max(start, ch.starts[i]);
        const e = Math.min(end, this.endOf(c, i));
        out.push({ start: s, count: e - s, status: ch.values[i] });
      }
    }
    return out;
  }

  /** First position >= from whose value satisfies `pred`, or undefined. */
  findNext(from: number, pred: (v: V) => boolean): number | undefined {
    if (from >= this.length) return undefined;
    for (let [c, i] = this.locate(Math.max(0, from)); c < this.chunks.length; c++, i = 0) {
      const ch = this.chunks[c];
      for (; i < ch.values.length; i++) if (pred(ch.values[i])) return Math.max(from, ch.starts[i]);
    }
    return undefined;
  }

  /** Sets [start, start+count) to v, keeping runs maximal. Returns false when nothing changed. */
  set(start: number, count: number, v: V): boolean {
    if (count <= 0) return false;
    const end = start + count;
    if (!Number.isSafeInteger(start) || start < 0 || end > this.length) {
      throw new RangeError(`range [${start}, ${end}) outside [0, ${this.length})`);
    }
    const [ci, i] = this.locate(start);
    const [cj, j] = this.locate(end - 1);
    const vi = this.chunks[ci].values[i];
    const vj = this.chunks[cj].values[j];
    if (ci === cj && i === j && vi === v) return false;
    this.beforeSet(start, end, v);

    // Replace runs from..to (inclusive) by: left remainder of run i, the new run, right remainder of run j,
    // merging with equal neighbours.
    const newStarts: number[] = [];
    const newValues: V[] = [];
    let from: [number, number] = [ci, i];
    const startI = this.chunks[ci].starts[i];
    if (startI < start) {
      newStarts.push(startI);
      newValues.push(vi);
      if (vi !== v) {
        newStarts.push(start);
        newValues.push(v);
      }
    } else {
      const p = this.prev(ci, i);
      if (p && this.chunks[p[0]].values[p[1]] === v) {
        from = p;
        newStarts.push(this.chunks[p[0]].starts[p[1]]);
      } else {
        newStarts.push(start);
      }
      newValues.push(v);
    }
    let to: [number, number] = [cj, j];
    if (this.endOf(cj, j) > end) {
      if (vj !== v) {
        newStarts.push(end);
        newValues.push(vj);
      }
    } else {
      const n = this.next(cj, j);
      if (n && this.chunks[n[0]].values[n[1]] === v) to = n;
    }
    this.replace(from, to, newStarts, newValues);
    this.version++;
    return true;
  }

  /** Replaces entries from..to (inclusive, possibly across chunks) by the given ones, then rebalances. */
  private replace(from: [number, number], to: [number, number], starts: number[], values: V[]): void {
    const [fc, fi] = from;
    const [tc, ti] = to;
    let removed = 0;
    if (fc === tc) {
      removed = ti - fi + 1;
      this.chunks[fc].starts.splice(fi, removed, ...starts);
      this.chunks[fc].values.splice(fi, removed, ...values);
    } else {
      const first = this.chunks[fc];
      const last = this.chunks[tc];
      removed = first.starts.length - fi + (ti + 1);
      for (let c = fc + 1; c < tc; c++) removed += this.chunks[c].starts.length;
      first.starts.splice(fi, first.starts.length - fi, ...starts, ...last.starts.slice(ti + 1));
      first.values.splice(fi, first.values.length - fi, ...values, ...last.values.slice(ti + 1));
      this.chunks.splice(fc + 1, tc - fc);
      this.firsts.splice(fc + 1, tc - fc);
    }
    this.total += starts.length - removed;
    const ch = this.chunks[fc];
    if (ch.starts.length === 0) {
      this.chunks.splice(fc, 1);
      this.firsts.splice(fc, 1);
      return;
    }
    this.firsts[fc] = ch.starts[0];
    if (ch.starts.length > CHUNK_MAX) {
      const half = ch.starts.length >>> 1;
      const right: Chunk<V> = { starts: ch.starts.splice(half), values: ch.values.splice(half) };
      this.chunks.splice(fc + 1, 0, right);
      this.firsts.splice(fc + 1, 0, right.starts[0]);
    }
  }

  /** Hook for subclasses that keep totals: called before [start, end) becomes v. */
  protected beforeSet(_start: number, _end: number, _v: V): void {}

  /** Loads maximal runs that tile [0, length) (no validation beyond what callers did). */
  protected load(starts: number[], values: V[]): void {
    this.chunks = [];
    this.firsts = [];
    for (let k = 0; k < starts.length; k += CHUNK_MAX) {
      this.chunks.push({ starts: starts.slice(k, k + CHUNK_MAX), values: values.slice(k, k + CHUNK_MAX) });
      this.firsts.push(starts[k]);
    }
    this.total = starts.length;
    this.version++;
  }

  /** Immutable snapshot of all runs, cached until the next change. */
  extents(): readonly Run<V>[] {
    if (this.snapshot && this.snapshot.version === this.version) return this.snapshot.runs;
    const runs: Run<V>[] = new Array(this.total);
    let k = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const ch = this.chunks[c];
      for (let i = 0; i < ch.starts.length; i++) {
        runs[k++] = Object.freeze({ start: ch.starts[i], count: this.endOf(c, i) - ch.starts[i], status: ch.values[i] });
      }
    }
    Object.freeze(runs);
    this.snapshot = { version: this.version, runs };
    return runs;
  }
}

export type StatusTotals = Record<SectorStatus, number>;

/** Per-sector ddrescue status over [0, sectorCount), with running totals per status. */
export class SectorMap extends RunLengthMap<SectorStatus> {
  private readonly sums: StatusTotals;

  constructor(sectorCount: number, initial: SectorStatus = '?') {
    super(sectorCount, initial);
    this.sums = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 };
    this.sums[initial] = sectorCount;
  }

  get sectorCount(): number {
    return this.length;
  }

  statusAt(sector: number): SectorStatus {
    return this.valueAt(sector);
  }

  protected override beforeSet(start: number, end: number, v: SectorStatus): void {
    for (const r of this.runs(start, end - start)) this.sums[r.status] -= r.count;
    this.sums[v] += end - start;
  }

  /** Sectors per status. */
  totals(): StatusTotals {
    return { ...this.sums };
  }

  /** Builds a map from runs that tile [0, sectorCount) (as loaded from the state store). */
  static fromRuns(sectorCount: number, runs: Iterable<Run<SectorStatus>>): SectorMap {
    const map = new SectorMap(sectorCount);
    const starts: number[] = [];
    const values: SectorStatus[] = [];
    const sums: StatusTotals = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 };
    let next = 0;
    for (const r of runs) {
      if (r.start !== next || !Number.isSafeInteger(r.count) || r.count <= 0 || !isSectorStatus(r.status)) {
        throw new Error(`sector runs do not tile the medium: run at ${r.start} (+${r.count}, '${r.status}') after ${next}`);
      }
      if (values.length === 0 || values[values.length - 1] !== r.status) {
        starts.push(r.start);
        values.push(r.status);
      }
      sums[r.status] += r.count;
      next = r.start + r.count;
    }
    if (next !== sectorCount) throw new Error(`sector runs end at ${next}, the medium has ${sectorCount} sectors`);
    if (sectorCount > 0) {
      map.load(starts, values);
      Object.assign(map.sums, sums);
    }
    return map;
  }
}
