// What a GNU ddrescue mapfile says of each sector of the cache (blkfs import): statuses are per byte in the map, per
// sector in the cache, and a sector whose bytes carry several statuses takes the one that leaves the most to do.
import { appendRun, type Extent, type GrowingRun, type SectorStatus } from './extent-map';
import type { MapBlock } from './mapfile';

/**
 * How far the rescue of a sector has gone, in the order of ddrescue's phases: '?' is read by the copying passes, '*'
 * by trimming, '/' by scraping, '-' only by retries (-r), '+' never again.
 */
const DONE: Record<SectorStatus, number> = { '?': 0, '*': 1, '/': 2, '-': 3, '+': 4 };

/** Whether `a` leaves less to do than `b` (a sector in `b` may become `a` without any read being repeated). */
export function isMoreDone(a: SectorStatus, b: SectorStatus): boolean {
  return DONE[a] > DONE[b];
}

/**
 * The map's status of each sector of a medium of `size` bytes, as runs tiling its sectors: the least done status of
 * the sector's bytes, bytes the map does not cover counting as '?'. So a sector is '+' only if all of it was rescued;
 * a sector partly '+' partly '-' is '-' (ddrescue found part of it bad: a read of it fails, and it is read again only
 * with retries); a sector partly '-' partly '/' is '/' (ddrescue would still scrape its '/' bytes, so its read is
 * still due); a sector with any '?' byte is '?' (part of it was never tried). Bytes past `size` are not looked at.
 */
export function sectorStatesOf(blocks: readonly MapBlock[], sectorSize: number, size: number): Extent[] {
  const out: GrowingRun<SectorStatus>[] = [];
  const push = (start: number, end: number, status: SectorStatus) => appendRun(out, start, end, status);
  let covered = 0; // bytes [0, covered) are placed
  let next = 0; // sectors [0, next) have a status; sector next - 1 may still be shared with the next block
  const place = (pos: number, end: number, status: SectorStatus) => {
    end = Math.min(end, size);
    if (end <= pos) return;
    let s0 = Math.floor(pos / sectorSize);
    const s1 = Math.ceil(end / sectorSize);
    if (s0 < next) {
      // The sector the previous block ended inside: the less done of the two statuses.
      const last = out[out.length - 1];
      if (isMoreDone(last.status, status)) {
        last.count--;
        if (last.count === 0) out.pop();
        push(s0, s0 + 1, status);
      }
      s0++;
    }
    push(s0, s1, status);
    next = Math.max(next, s1);
    covered = end;
  };
  for (const b of blocks) {
    if (b.pos >= size) break;
    place(covered, b.pos, '?'); // before the first block: not in the map
    place(b.pos, b.pos + b.size, b.status);
  }
  place(covered, size, '?'); // a map shorter than the medium
  return out;
}
