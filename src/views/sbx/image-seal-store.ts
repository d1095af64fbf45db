// Hashes of the medium image, each stored with the exact state of the medium it was computed over (which
// sectors were bad, hence zeros in the image). The metadata block of /sbx/image.sbx needs the hash of the
// whole image; computing it means reading the whole cached medium, so it is done once per state and kept in
// the cache database (a table beside the cache's own), across remounts.
import type Database from 'better-sqlite3';
import { Extent } from '../../cache/extent-map';
import { HashType } from '../../sbx/format/multihash';

export interface ImageSeal {
  stateKey: string;
  hashType: HashType;
  digest: Buffer;
  /** Sector runs that were not cached ('-') in that state. */
  badRuns: Extent[];
  /** Unix seconds. */
  created: number;
}

export function badRunsOf(extents: readonly Extent[]): Extent[] {
  return extents.filter((r) => r.status !== '+').map((r) => ({ start: r.start, count: r.count, status: r.status }));
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sbx_image_seals (
  state_key TEXT NOT NULL,
  hash_type TEXT NOT NULL,
  digest BLOB NOT NULL,
  bad_runs TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (state_key, hash_type)
);
`;

/** Seals kept per hash type; older states are of no use once the medium has moved on. */
const KEEP = 4;

export class ImageSealStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.stmts = {
      get: db.prepare('SELECT * FROM sbx_image_seals WHERE state_key = ? AND hash_type = ?'),
      put: db.prepare('INSERT OR REPLACE INTO sbx_image_seals (state_key, hash_type, digest, bad_runs, created) VALUES (?, ?, ?, ?, ?)'),
      prune: db.prepare(
        'DELETE FROM sbx_image_seals WHERE hash_type = ? AND rowid NOT IN (SELECT rowid FROM sbx_image_seals WHERE hash_type = ? ORDER BY created DESC, rowid DESC LIMIT ?)',
      ),
    };
  }

  get(stateKey: string, hashType: HashType): ImageSeal | undefined {
    const r = this.stmts.get.get(stateKey, hashType) as
      | { state_key: string; hash_type: HashType; digest: Buffer; bad_runs: string; created: number }
      | undefined;
    if (!r) return undefined;
    return { stateKey: r.state_key, hashType: r.hash_type, digest: r.digest, badRuns: JSON.parse(r.bad_runs) as Extent[], created: r.created };
  }

  put(seal: ImageSeal): void {
    this.db.transaction(() => {
      this.stmts.put.run(seal.stateKey, seal.hashType, seal.digest, JSON.stringify(seal.badRuns), seal.created);
      this.stmts.prune.run(seal.hashType, seal.hashType, KEEP);
    })();
  }
}
