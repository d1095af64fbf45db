// Which sectors a layout read by The Sleuth Kit may have missed: those not yet read ('?', '*', '/') or bad ('-')
// when it ran, outside the data of the files it did list (there it needed only where the data lies, which it
// had). Once any of them is read, TSK may see what it could not before: a file's indirect block, a FAT sector,
// a directory, a superblock a passing server error hid.
import type { Extent } from '../cache/extent-map';
import type { MediumLayout } from './layout';
import { mergeRanges, subtractRanges } from '../cache/byte-ranges';

/** Sorted, disjoint byte ranges [start, end). */
export type ByteRanges = [number, number][];

/** The unread or bad byte ranges of `extents`, less the data runs of the layout's files. */
export function gapsOutsideFileData(extents: readonly Extent[], sectorSize: number, layout: MediumLayout | undefined): ByteRanges {
  const gaps: ByteRanges = [];
  for (const e of extents) {
    if (e.status === '+') continue;
    const s = e.start * sectorSize;
    const last = gaps[gaps.length - 1];
    if (last && last[1] === s) last[1] = (e.start + e.count) * sectorSize;
    else gaps.push([s, (e.start + e.count) * sectorSize]);
  }
  if (!layout || gaps.length === 0) return gaps;
  const data: ByteRanges = [];
  for (const entry of layout.entries) {
    if (entry.kind !== 'file') continue;
    for (let i = 0; i < entry.runs.length; i += 2) data.push([entry.runs[i], entry.runs[i] + entry.runs[i + 1]]);
  }
  return subtractRanges(gaps, mergeRanges(data));
}

/** Whether any byte of `gaps` is rescued ('+') in `extents`. */
export function anyRescued(gaps: ByteRanges, extents: readonly Extent[], sectorSize: number): boolean {
  let g = 0;
  for (const e of extents) {
    if (e.status !== '+') continue;
    const s = e.start * sectorSize;
    const end = (e.start + e.count) * sectorSize;
    while (g < gaps.length && gaps[g][1] <= s) g++;
    if (g === gaps.length) return false;
    if (gaps[g][0] < end) return true;
  }
  return false;
}
