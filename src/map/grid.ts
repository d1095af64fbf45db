// The medium as a grid of cells in reading order, each cell the worst status of the bytes it covers. Cells are
// filled by walking the extents (one pass, each extent touching only its own cells), never sector by sector: a
// 2 TB map of 200,000 extents fills 100,000 cells in milliseconds.
import type { SectorStatus } from './palette';
import { OUTSIDE, SEVERITY } from './palette';

/** A block of the map in bytes (a parsed mapfile's MapBlock, or a cache extent times the sector size). */
export interface ByteExtent {
  pos: number;
  size: number;
  status: SectorStatus;
}

export interface MapSummary {
  size: number;
  bytes: Record<SectorStatus, number>;
  /** Maximal runs of '-' (adjacent bad blocks count once). */
  badAreas: number;
  largestBadArea: number;
}

export interface MapGrid {
  /** Bytes per cell (the last cell may cover fewer). */
  cellBytes: number;
  /** Severity value (palette SEVERITY, or OUTSIDE) of each cell, in reading order. */
  cells: Uint8Array;
  /** The cell holding the current read position, if it is inside the medium. */
  activeCell?: number;
  summary: MapSummary;
}

/** Totals and bad areas of extents in file order. */
export function summarize(extents: Iterable<ByteExtent>, size: number): MapSummary {
  const bytes: Record<SectorStatus, number> = { '+': 0, '?': 0, '*': 0, '/': 0, '-': 0 };
  let badAreas = 0;
  let largest = 0;
  let runEnd = -1;
  let runSize = 0;
  for (const e of extents) {
    bytes[e.status] += e.size;
    if (e.status !== '-') continue;
    if (e.pos === runEnd) runSize += e.size;
    else {
      badAreas++;
      runSize = e.size;
    }
    runEnd = e.pos + e.size;
    if (runSize > largest) largest = runSize;
  }
  return { size, bytes, badAreas, largestBadArea: largest };
}

/**
 * Lays `size` bytes over at most `maxCells` cells of equal whole byte counts (a multiple of `granule`, e.g. the
 * sector size, so that no sector straddles two cells) and paints each with the worst status touching it.
 */
export function buildGrid(
  extents: readonly ByteExtent[],
  size: number,
  maxCells: number,
  opts: { currentPos?: number; granule?: number } = {},
): MapGrid {
  if (!Number.isSafeInteger(maxCells) || maxCells < 1) throw new RangeError(`cell count must be a positive integer, not ${maxCells}`);
  const granule = Math.max(1, opts.granule ?? 1);
  const units = Math.ceil(size / granule);
  const cellBytes = Math.max(1, Math.ceil(units / maxCells)) * granule;
  const count = size > 0 ? Math.ceil(size / cellBytes) : 0;
  const cells = new Uint8Array(count).fill(OUTSIDE);
  for (const e of extents) {
    if (e.size <= 0 || e.pos >= size) continue;
    const sev = SEVERITY[e.status];
    const first = Math.floor(e.pos / cellBytes);
    const last = Math.floor((Math.min(size, e.pos + e.size) - 1) / cellBytes);
    for (let c = first; c <= last; c++) if (cells[c] < sev) cells[c] = sev;
  }
  const pos = opts.currentPos;
  const activeCell = pos !== undefined && pos >= 0 && pos < size ? Math.floor(pos / cellBytes) : undefined;
  return { cellBytes, cells, activeCell, summary: summarize(extents, size) };
}

/** Sector runs (the cache's extents) as byte extents of a `size`-byte medium (the last sector may be partial). */
export function bytesOfRuns(runs: readonly { start: number; count: number; status: SectorStatus }[], sectorSize: number, size: number): ByteExtent[] {
  const out: ByteExtent[] = new Array(runs.length);
  let n = 0;
  for (const r of runs) {
    const pos = r.start * sectorSize;
    const end = Math.min(size, (r.start + r.count) * sectorSize);
    if (end > pos) out[n++] = { pos, size: end - pos, status: r.status };
  }
  out.length = n;
  return out;
}

/** The first `limit` bad areas (maximal runs of '-'), in reading order. */
export function badAreasOf(extents: Iterable<ByteExtent>, limit: number): { pos: number; size: number }[] {
  const out: { pos: number; size: number }[] = [];
  for (const e of extents) {
    if (e.status !== '-') continue;
    const last = out[out.length - 1];
    if (last && last.pos + last.size === e.pos) last.size += e.size;
    else if (out.length >= limit) break;
    else out.push({ pos: e.pos, size: e.size });
  }
  return out;
}
