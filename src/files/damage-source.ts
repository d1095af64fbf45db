// Where the bytes of the medium stand: rescued, bad, or not yet (ddrescue statuses), asked per byte range.
// Two sources: a ddrescue mapfile (offline, `blkfs files IMAGE MAPFILE`) and the live sector map of a mount.
import type { Extent, SectorMap, SectorStatus } from '../cache/extent-map';
import type { MapBlock } from '../cache/mapfile';

export interface DamageSource {
  /** Bytes of the medium. */
  readonly size: number;
  /**
   * Calls `cb` for each part of [start, end) that is not rescued ('+'), in order. Bytes past the end of the medium
   * (a filesystem larger than the medium or the image: truncated, or a partition table wrong) were never read: '?'.
   */
  forEachUnfinished(start: number, end: number, cb: (length: number, status: SectorStatus) => void): void;
  /** Bad ('-') bytes on the whole medium. */
  totalBadBytes(): number;
}

/**
 * A mapfile's blocks as sorted arrays of the blocks that are not finished; bytes the mapfile does not cover
 * count as non-tried, as ddrescue reads them.
 */
export class MapfileDamage implements DamageSource {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly statuses: SectorStatus[] = [];
  private readonly bad: number;
  readonly size: number;

  constructor(blocks: readonly MapBlock[], mediumSize: number) {
    let at = 0;
    let bad = 0;
    const push = (s: number, e: number, st: SectorStatus) => {
      if (e <= s) return;
      const n = this.ends.length;
      if (n > 0 && this.ends[n - 1] === s && this.statuses[n - 1] === st) this.ends[n - 1] = e;
      else {
        this.starts.push(s);
        this.ends.push(e);
        this.statuses.push(st);
      }
      if (st === '-') bad += e - s;
    };
    for (const b of blocks) {
      push(at, b.pos, '?');
      if (b.status !== '+') push(b.pos, b.pos + b.size, b.status);
      at = b.pos + b.size;
    }
    push(at, Math.max(at, mediumSize), '?');
    this.bad = bad;
    this.size = Math.max(at, mediumSize);
  }

  forEachUnfinished(start: number, end: number, cb: (length: number, status: SectorStatus) => void): void {
    // First block ending after `start`.
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] <= start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.starts.length && this.starts[i] < end; i++) {
      cb(Math.min(end, this.ends[i]) - Math.max(start, this.starts[i]), this.statuses[i]);
    }
    const past = Math.max(start, this.size);
    if (end > past) cb(end - past, '?');
  }

  totalBadBytes(): number {
    return this.bad;
  }
}

/** The live sector map of a mount, in bytes; the medium's last sector may be partial. */
export class SectorMapDamage implements DamageSource {
  constructor(
    private readonly map: SectorMap,
    private readonly sectorSize: number,
    private readonly mediumSize: number,
  ) {}

  get size(): number {
    return this.mediumSize;
  }

  forEachUnfinished(start: number, end: number, cb: (length: number, status: SectorStatus) => void): void {
    const e = Math.min(end, this.mediumSize);
    if (e > start) {
      const first = Math.floor(start / this.sectorSize);
      const last = Math.ceil(e / this.sectorSize);
      for (const r of this.map.runs(first, last - first)) {
        if (r.status === '+') continue;
        const s = Math.max(start, r.start * this.sectorSize);
        const t = Math.min(e, (r.start + r.count) * this.sectorSize);
        if (t > s) cb(t - s, r.status);
      }
    }
    const past = Math.max(start, this.mediumSize);
    if (end > past) cb(end - past, '?');
  }

  totalBadBytes(): number {
    return Math.min(this.mediumSize, this.map.totals()['-'] * this.sectorSize);
  }
}

/** The cache's sector extents (one immutable snapshot) as a damage source in bytes. */
export function extentsDamage(extents: readonly Extent[], sectorSize: number, mediumSize: number): MapfileDamage {
  const blocks: MapBlock[] = [];
  for (const e of extents) {
    const pos = e.start * sectorSize;
    const end = Math.min(mediumSize, (e.start + e.count) * sectorSize);
    if (end > pos) blocks.push({ pos, size: end - pos, status: e.status });
  }
  return new MapfileDamage(blocks, mediumSize);
}

/** Byte ranges where two snapshots of the same medium's extents differ in status. */
export function changedRanges(before: readonly Extent[], after: readonly Extent[], sectorSize: number): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  let i = 0;
  let j = 0;
  let at = 0;
  while (i < before.length && j < after.length) {
    const a = before[i];
    const b = after[j];
    const end = Math.min(a.start + a.count, b.start + b.count);
    if (a.status !== b.status && end > at) {
      const last = out[out.length - 1];
      if (last && last.end === at * sectorSize) last.end = end * sectorSize;
      else out.push({ start: at * sectorSize, end: end * sectorSize });
    }
    at = end;
    if (a.start + a.count === end) i++;
    if (b.start + b.count === end) j++;
  }
  return out;
}
