// What the file report's join needs of a layout, built once per layout: its runs indexed by start (with a running
// maximum of ends, for stabbing), the entries judged by their filesystem's structures, the union of all entries'
// bytes, and each filesystem's structures. Built in batches (turns.ts): a layout may hold millions of runs.
import type { LayoutEntry, MediumLayout } from './layout';
import { subtractRanges } from '../cache/byte-ranges';
import { BATCH, sortedOrder, Steps } from './turns';

/** Filesystems whose metadata maps every block of a file, where TSK lists no run for a hole (holesUnlisted). */
const MAPS_HOLES: ReadonlySet<string | undefined> = new Set(['NTFS', 'ext2', 'ext3', 'ext4']);

export interface LayoutIndex {
  // Runs sorted by start; maxEnd[i] = max end of runs 0..i.
  runStart: Float64Array;
  runEnd: Float64Array;
  runEntry: Int32Array;
  maxEnd: Float64Array;
  /** Entries with content but no runs (resident/inline data): judged by their filesystem's structures. */
  resident: number[];
  /** The union of all entries' runs (hard links share theirs: their bytes count once). */
  inEntries: [number, number][];
  /** Per filesystem, its span less its entries' runs and slack and its free space: its structures. */
  structures: [number, number][][];
}

/**
 * A file placed only in part on a filesystem that maps every block of a file in its metadata: the rest is holes,
 * read with that metadata — not a broken chain. TSK 4.11 lists no sparse run on NTFS (nor the sparse tail of a
 * compression unit), and none on ext2/3 (indirect blocks) or after an ext4 file's last extent. (FAT, exFAT and
 * ISO9660 have no holes: there a shortfall is a broken chain.)
 */
export function holesUnlisted(layout: MediumLayout, e: LayoutEntry): boolean {
  if (e.runs.length === 0 || (e.kind !== 'file' && e.kind !== 'other') || !MAPS_HOLES.has(layout.filesystems[e.fs]?.type)) return false;
  let located = e.holeBytes ?? 0;
  for (let k = 1; k < e.runs.length; k += 2) located += e.runs[k];
  return located < e.size;
}

export function* indexLayout(layout: MediumLayout): Steps<LayoutIndex> {
  const entries = layout.entries;
  // Typed arrays of the size needed, not arrays grown run by run: less garbage for the collector, whose pauses on
  // a large layout's heap hold the loop as any work does.
  let runs = 0;
  for (const e of entries) runs += e.runs.length / 2;
  const starts = new Float64Array(runs);
  const ends = new Float64Array(runs);
  const entryOf = new Int32Array(runs);
  const resident: number[] = [];
  let at = 0;
  for (let idx = 0; idx < entries.length; idx++) {
    const e = entries[idx];
    for (let i = 0; i < e.runs.length; i += 2, at++) {
      starts[at] = e.runs[i];
      ends[at] = e.runs[i] + e.runs[i + 1];
      entryOf[at] = idx;
    }
    // (And entries TSK could not read: whether to blame sectors depends on the structures' state.)
    if ((e.runs.length === 0 && e.size > (e.holeBytes ?? 0)) || holesUnlisted(layout, e) || e.unreadableMetadata) resident.push(idx);
    if (idx % BATCH === BATCH - 1) yield;
  }
  const order = yield* sortedOrder(starts);
  const n = order.length;
  const index: LayoutIndex = {
    runStart: new Float64Array(n),
    runEnd: new Float64Array(n),
    runEntry: new Int32Array(n),
    maxEnd: new Float64Array(n),
    resident,
    inEntries: [],
    structures: [],
  };
  let m = 0;
  for (let i = 0; i < n; i++) {
    const k = order[i];
    index.runStart[i] = starts[k];
    index.runEnd[i] = ends[k];
    index.runEntry[i] = entryOf[k];
    m = Math.max(m, ends[k]);
    index.maxEnd[i] = m;
    if (i % BATCH === BATCH - 1) yield;
  }
  index.inEntries = yield* unionInOrder(index.runStart, index.runEnd, null);
  for (let fsi = 0; fsi < layout.filesystems.length; fsi++) {
    const f = layout.filesystems[fsi];
    index.structures.push(subtractRanges([[f.offset, f.offset + f.size]], yield* coveredBy(layout, fsi)));
  }
  return index;
}

/** The bytes of a filesystem's entries' runs and slack and of its free space, merged. */
function* coveredBy(layout: MediumLayout, fsi: number): Steps<[number, number][]> {
  const entries = layout.entries;
  let ranges = (layout.free[fsi]?.length ?? 0) / 2;
  for (const e of entries) if (e.fs === fsi) ranges += (e.runs.length + (e.slack?.length ?? 0)) / 2;
  const starts = new Float64Array(ranges);
  const ends = new Float64Array(ranges);
  let at = 0;
  const add = (list: readonly number[]) => {
    for (let k = 0; k < list.length; k += 2, at++) {
      starts[at] = list[k];
      ends[at] = list[k] + list[k + 1];
    }
  };
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].fs === fsi) {
      add(entries[i].runs);
      add(entries[i].slack ?? []);
    }
    if (i % BATCH === BATCH - 1) yield;
  }
  add(layout.free[fsi] ?? []);
  return yield* unionInOrder(starts, ends, yield* sortedOrder(starts));
}

/**
 * Ranges [starts[i], ends[i]) merged where they overlap or touch, ascending, empty ones dropped (as mergeRanges),
 * taken in `order` (null: already sorted by start).
 */
function* unionInOrder(starts: Float64Array, ends: Float64Array, order: Int32Array | null): Steps<[number, number][]> {
  const out: [number, number][] = [];
  for (let i = 0; i < starts.length; i++) {
    const k = order ? order[i] : i;
    const [a, b] = [starts[k], ends[k]];
    if (b > a) {
      const last = out[out.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else out.push([a, b]);
    }
    if (i % BATCH === BATCH - 1) yield;
  }
  return out;
}
