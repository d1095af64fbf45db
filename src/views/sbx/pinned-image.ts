// The medium image as one open /sbx/image.sbx sees it: a fixed state of the medium, pinned when the file is
// opened, so one open file never mixes two states (a sector that was bad when it was opened stays zeros for
// it even if a retry recovers the sector meanwhile). Sectors still untried when it was opened are read
// through the cache on first use, and what that read found (data, or a bad sector) becomes part of the
// pinned state. Bad sectors read as zeros: the container carries them as zeros and /sbx/image.map says
// where they are.
import { Extent, SectorMap, SectorStatus } from '../../cache/extent-map';
import { RandomReader } from '../../sbx/reader';
import type { SectorCache } from '../../cache/sector-cache';
import { OperationError } from '../../errors';

/** '?', '*' and '/' are sectors whose outcome is not known yet (ddrescue's untried / untrimmed / unscraped). */
export function isUndetermined(s: SectorStatus): boolean {
  return s === '?' || s === '*' || s === '/';
}

export class InconsistentCacheError extends OperationError {
  constructor(offset: number) {
    super(`the cache returned a short read without a bad sector at byte ${offset}`);
    this.name = 'InconsistentCacheError';
  }
}

export class PinnedImage implements RandomReader {
  readonly size: number;
  private readonly sectorSize: number;
  private readonly map: SectorMap;

  constructor(
    private readonly cache: SectorCache,
    extents: readonly Extent[],
  ) {
    this.size = cache.size;
    this.sectorSize = cache.sectorSize;
    this.map = SectorMap.fromRuns(Math.ceil(cache.size / cache.sectorSize), extents);
  }

  /** True when no sector of the pinned state is still undecided (the image, and so its hash, is fixed). */
  isComplete(): boolean {
    const t = this.map.totals();
    return t['?'] + t['*'] + t['/'] === 0;
  }

  /** Takes the outcome of every sector this state has not decided yet from a later snapshot of the cache. */
  completeFrom(later: readonly Extent[]): void {
    const laterMap = SectorMap.fromRuns(this.map.sectorCount, later);
    for (const run of this.map.extents()) {
      if (!isUndetermined(run.status)) continue;
      for (const r of laterMap.runs(run.start, run.count)) this.map.set(r.start, r.count, r.status);
    }
  }

  /** The pinned sector states (immutable snapshot). */
  extents(): readonly Extent[] {
    return this.map.extents();
  }

  /** Bytes [offset, offset+length) of the image in this state; bad sectors are zeros. */
  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const ss = this.sectorSize;
    const first = this.map.runAt(Math.floor(offset / ss));
    if (first.status === '+' && (first.start + first.count) * ss >= end) {
      // All cached (the usual case once the medium is complete): the cache's bytes as they are.
      const { data } = await this.cache.read(offset, end - offset, 'foreground');
      if (data.length < end - offset) throw new InconsistentCacheError(offset + data.length);
      return data;
    }
    const out = Buffer.alloc(end - offset);
    let pos = offset;
    while (pos < end) {
      const run = this.map.runAt(Math.floor(pos / ss));
      const runEnd = Math.min(end, (run.start + run.count) * ss);
      if (run.status === '+') {
        const { data } = await this.cache.read(pos, runEnd - pos, 'foreground');
        if (data.length < runEnd - pos) throw new InconsistentCacheError(pos + data.length);
        data.copy(out, pos - offset);
      } else if (run.status !== '-') {
        await this.resolve(pos, runEnd, out, offset);
      } // '-': zeros, `out` starts zeroed
      pos = runEnd;
    }
    return out;
  }

  /** Reads undecided sectors through the cache and pins what they turn out to be. */
  private async resolve(from: number, to: number, out: Buffer, outOffset: number): Promise<void> {
    const ss = this.sectorSize;
    let pos = from;
    while (pos < to) {
      const { data, errorAt } = await this.cache.read(pos, to - pos, 'foreground');
      data.copy(out, pos - outOffset);
      const goodEnd = pos + data.length;
      const firstSector = Math.floor(pos / ss);
      const goodSectors = Math.ceil(goodEnd / ss) - firstSector;
      if (goodSectors > 0) this.map.set(firstSector, goodSectors, '+');
      if (goodEnd >= to) return;
      if (errorAt === undefined) throw new InconsistentCacheError(goodEnd);
      // The sector at errorAt is bad: it stays zeros and is pinned as bad.
      const badSector = Math.floor(errorAt / ss);
      this.map.set(badSector, 1, '-');
      pos = Math.min(to, (badSector + 1) * ss);
    }
  }
}
