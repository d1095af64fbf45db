// The fixity ledger's table (fixity.ts) and the marker saying every '+' sector of the cache has its chunk there.
import type Database from 'better-sqlite3';

export const FIXITY_TABLE = 'fixity';
/** Set when every '+' sector of the cache has its chunk: made with checksums, or an older cache once adopted. */
const COMPLETE_KEY = 'fixity.complete';

/** Creates the table when missing: on a cache holding no '+' sector yet (a new one), complete from the start. */
export function ensureTable(db: Database.Database): void {
  const table = (name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name);
  if (table(FIXITY_TABLE)) return;
  const older = table('extents') && db.prepare("SELECT 1 FROM extents WHERE status = '+' LIMIT 1").get();
  db.transaction(() => {
    db.exec(`CREATE TABLE ${FIXITY_TABLE} (start INTEGER PRIMARY KEY, count INTEGER NOT NULL, crc INTEGER NOT NULL)`);
    if (!older) markComplete(db);
  })();
}

/** Whether every '+' sector of the cache has its chunk, so one without is damage (COMPLETE_KEY). */
export function fixityComplete(db: Database.Database): boolean {
  return db.prepare('SELECT 1 FROM settings WHERE key = ?').get(COMPLETE_KEY) !== undefined;
}

export function markComplete(db: Database.Database): void {
  db.prepare("INSERT OR IGNORE INTO settings (key, value) VALUES (?, '1')").run(COMPLETE_KEY);
}
