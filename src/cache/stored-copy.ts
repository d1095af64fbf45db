// Whether a cache's copy of one sector can be trusted, asked when an identity probe finds the medium different there.
// A sector no longer '+' (forgotten as damaged) or one whose chunk fails its checksum (a flipped bit in the data file)
// is damage in the cache, not another medium: the probe skips it, as it skips a sector the medium cannot read. The
// other probe sectors still decide, so another medium is still refused.
import Database from 'better-sqlite3';
import * as fs from 'fs';
import { readUpTo } from './data-file';
import { chunkAt, chunkBytes, chunkDamage } from './fixity';
import { fixityComplete } from './fixity-table';

export interface StoredCopy {
  /** The cache's database (open), or the path of one not opened yet (opened only for this question, and only read). */
  db: Database.Database | string;
  dataPath: string;
  sectorSize: number;
  size: number;
}

/** True only when the cache's copy of `sector` is shown to be untrustworthy; false when it is sound or that cannot be told. */
export async function copyIsDamaged(cache: StoredCopy, sector: number): Promise<boolean> {
  let db: Database.Database | undefined;
  try {
    db = typeof cache.db === 'string' ? new Database(cache.db, { fileMustExist: true, timeout: 0 }) : cache.db;
    const run = db.prepare('SELECT start, count, status FROM extents WHERE start <= ? ORDER BY start DESC LIMIT 1').get(sector) as Row & { status: string } | undefined;
    if (!run || run.start + run.count <= sector) return false;
    if (run.status !== '+') return true;
    const chunk = chunkAt(db, sector);
    if (!chunk) return fixityComplete(db); // no checksum: damage, unless an older cache's (cannot tell)
    const { offset, length } = chunkBytes(chunk, cache);
    const fh = await fs.promises.open(cache.dataPath, 'r');
    try {
      return chunkDamage(chunk, await readUpTo(fh, offset, length), offset, cache) !== undefined;
    } finally {
      await fh.close();
    }
  } catch {
    return false; // busy, unreadable, no such table: the mismatch stands
  } finally {
    if (typeof cache.db === 'string') db?.close();
  }
}

interface Row {
  start: number;
  count: number;
}
