// Finished image checksums kept in the cache database (table archive_checksums), keyed by the medium state they
// describe (geometry + every run that is not '+'), so a remount of a settled medium shows them at once instead of
// hashing the whole cache again.
import type Database from 'better-sqlite3';
import type { ImageDigestValues } from './image-digests';

export interface StoredChecksums {
  digests: ImageDigestValues;
  bytesBad: number;
}

const KEEP = 4;

export class ChecksumStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS archive_checksums (
      state_key TEXT PRIMARY KEY, digests TEXT NOT NULL, bytes_bad INTEGER NOT NULL, created INTEGER NOT NULL)`);
    this.stmts = {
      get: db.prepare('SELECT digests, bytes_bad FROM archive_checksums WHERE state_key = ?'),
      put: db.prepare('INSERT OR REPLACE INTO archive_checksums (state_key, digests, bytes_bad, created) VALUES (?, ?, ?, ?)'),
      prune: db.prepare('DELETE FROM archive_checksums WHERE rowid NOT IN (SELECT rowid FROM archive_checksums ORDER BY created DESC, rowid DESC LIMIT ?)'),
    };
  }

  get(key: string): StoredChecksums | undefined {
    const r = this.stmts.get.get(key) as { digests: string; bytes_bad: number } | undefined;
    return r && { digests: JSON.parse(r.digests) as ImageDigestValues, bytesBad: r.bytes_bad };
  }

  put(key: string, value: StoredChecksums): void {
    this.db.transaction(() => {
      this.stmts.put.run(key, JSON.stringify(value.digests), value.bytesBad, Date.now());
      this.stmts.prune.run(KEEP);
    })();
  }
}
