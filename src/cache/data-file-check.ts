// Before a cache is opened: its data file must hold every '+' byte. A missing data file, or one shorter than the
// '+' sectors need, would otherwise be recreated or extended as a hole, and its zeros served as the medium's data.
import * as fs from 'fs';
import * as path from 'path';
import { CacheDamagedError } from './errors';
import type { SectorMap } from './extent-map';

/** The data file lost rescued bytes (deleted, truncated): refuse to open, say how much and how to go on. */
export class DataFileLostError extends CacheDamagedError {
  constructor(
    cacheDir: string,
    readonly lostBytes: number,
    readonly ranges: { offset: number; length: number }[],
    what: string,
  ) {
    super(
      cacheDir,
      `${what}: ${lostBytes} bytes of rescued data (${ranges.length} range${ranges.length === 1 ? '' : 's'}, first at byte ${ranges[0]?.offset ?? 0}) ` +
        `are gone (to read them again from the medium: blkfs verify --cache ${cacheDir} --forget-damaged)`,
    );
    this.name = 'DataFileLostError';
  }
}

/** '+' byte ranges at or past `from` (bytes). */
export function plusRangesFrom(map: SectorMap, sectorSize: number, size: number, from: number): { offset: number; length: number }[] {
  const out: { offset: number; length: number }[] = [];
  for (const e of map.extents()) {
    if (e.status !== '+') continue;
    const a = Math.max(from, e.start * sectorSize);
    const b = Math.min(size, (e.start + e.count) * sectorSize);
    if (b > a) out.push({ offset: a, length: b - a });
  }
  return out;
}

export function checkDataFileIntact(cacheDir: string, dataPath: string, map: SectorMap, sectorSize: number, size: number): void {
  let fileSize: number;
  try {
    fileSize = fs.statSync(dataPath).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const lost = plusRangesFrom(map, sectorSize, size, 0);
    if (lost.length > 0) throw new DataFileLostError(cacheDir, lost.reduce((n, r) => n + r.length, 0), lost, `its data file ${path.basename(dataPath)} is missing`);
    return;
  }
  if (fileSize >= size) return;
  const lost = plusRangesFrom(map, sectorSize, size, fileSize);
  if (lost.length > 0) {
    throw new DataFileLostError(cacheDir, lost.reduce((n, r) => n + r.length, 0), lost, `its data file ${path.basename(dataPath)} has ${fileSize} bytes, but rescued sectors reach byte ${lost[lost.length - 1].offset + lost[lost.length - 1].length}`);
  }
}
