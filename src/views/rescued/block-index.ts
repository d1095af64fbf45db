// The SQLite index of SBX blocks found on the medium (a table in the cache's database): one row per valid
// block, by byte offset, with its UID, seq, version and kind. Also records which byte ranges have been
// scanned, so a remount only scans what was cached since (or what a crash left unscanned).
//
// Rows only point at medium bytes that are cached ('+'): those never change, so a row never goes stale.
// `id` grows with every insert; a reader that remembers the largest id at open sees one fixed set of
// blocks however many are found while it reads.
import type Database from 'better-sqlite3';
import { uidToHex } from '../../sbx/format/header';
import { SbxVersion } from '../../sbx/format/specs';
import { FoundBlock } from '../../sbx/format/scan';

export type BlockKind = 'meta' | 'data' | 'parity';

export interface IndexedBlock {
  id: number;
  offset: number;
  /** 12 uppercase hex digits, as blkar prints a UID. */
  uid: string;
  seq: number;
  version: SbxVersion;
  kind: BlockKind;
}

/** What makes a seq a parity seq of a container: its RS geometry, known once a metadata block is found. */
export interface RsGeometry {
  uid: string;
  version: SbxVersion;
  d: number;
  p: number;
}

const ALL_VERSIONS = '(1, 2, 3, 17, 18, 19)';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sbx_blocks (
  id INTEGER PRIMARY KEY,
  offset INTEGER NOT NULL UNIQUE,
  uid TEXT NOT NULL,
  seq INTEGER NOT NULL,
  version INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('meta', 'data', 'parity'))
);
CREATE INDEX IF NOT EXISTS sbx_blocks_by_container ON sbx_blocks (uid, version, seq, offset);
CREATE TABLE IF NOT EXISTS sbx_rs_geometry (
  uid TEXT NOT NULL,
  version INTEGER NOT NULL,
  d INTEGER NOT NULL,
  p INTEGER NOT NULL,
  PRIMARY KEY (uid, version)
);
CREATE TABLE IF NOT EXISTS sbx_scanned (
  start INTEGER PRIMARY KEY,
  end INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sbx_settled_burst (
  container TEXT PRIMARY KEY,
  burst INTEGER NOT NULL
);
`;

interface BlockRow {
  id: number;
  offset: number;
  uid: string;
  seq: number;
  version: number;
  kind: string;
}

function toBlock(r: BlockRow): IndexedBlock {
  return { id: r.id, offset: r.offset, uid: r.uid, seq: r.seq, version: r.version as SbxVersion, kind: r.kind as BlockKind };
}

export class BlockIndex {
  private readonly geometry = new Map<string, RsGeometry>();
  /** Per UID: blocks, largest id and first offset (kept in memory: every /rescued/ lookup needs them). */
  private readonly perUid = new Map<string, { uid: string; blocks: number; maxId: number; firstOffset: number }>();
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.stmts = {
      insert: db.prepare('INSERT OR IGNORE INTO sbx_blocks (offset, uid, seq, version, kind) VALUES (?, ?, ?, ?, ?)'),
      insertGeometry: db.prepare('INSERT OR IGNORE INTO sbx_rs_geometry (uid, version, d, p) VALUES (?, ?, ?, ?)'),
      markParity: db.prepare(
        "UPDATE sbx_blocks SET kind = 'parity' WHERE uid = ? AND version = ? AND seq >= 1 AND ((seq - 1) % ?) >= ? AND kind = 'data'",
      ),
      insertScanned: db.prepare(
        'INSERT INTO sbx_scanned (start, end) VALUES (?, ?) ON CONFLICT (start) DO UPDATE SET end = MAX(end, excluded.end)',
      ),
      scanned: db.prepare('SELECT start, end FROM sbx_scanned ORDER BY start'),
      clearScanned: db.prepare('DELETE FROM sbx_scanned'),
      scannedCount: db.prepare('SELECT COUNT(*) AS n FROM sbx_scanned'),
      settledBurst: db.prepare('SELECT burst FROM sbx_settled_burst WHERE container = ?'),
      settleBurst: db.prepare('INSERT OR IGNORE INTO sbx_settled_burst (container, burst) VALUES (?, ?)'),
      uids: db.prepare('SELECT uid, COUNT(*) AS blocks, MAX(id) AS maxId, MIN(offset) AS firstOffset FROM sbx_blocks GROUP BY uid'),
      maxId: db.prepare('SELECT COALESCE(MAX(id), 0) AS maxId FROM sbx_blocks'),
      ofUid: db.prepare('SELECT * FROM sbx_blocks WHERE uid = ? AND id <= ? ORDER BY offset'),
      // `version IN (…)` lets SQLite use the (uid, version, seq, offset) index for a UID alone.
      metaOfUid: db.prepare(`SELECT * FROM sbx_blocks WHERE uid = ? AND version IN ${ALL_VERSIONS} AND seq = 0 AND id <= ? ORDER BY offset`),
      firstOfUid: db.prepare(`SELECT * FROM sbx_blocks WHERE uid = ? AND version IN ${ALL_VERSIONS} AND id <= ? ORDER BY offset LIMIT 1`),
      seqRange: db.prepare(
        'SELECT * FROM sbx_blocks WHERE uid = ? AND version = ? AND seq BETWEEN ? AND ? AND id <= ? ORDER BY seq, offset',
      ),
      maxSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM sbx_blocks WHERE uid = ? AND version = ? AND id <= ?'),
      firstDataByOffset: db.prepare(
        'SELECT * FROM sbx_blocks WHERE uid = ? AND version = ? AND seq >= 1 AND id <= ? ORDER BY offset LIMIT ?',
      ),
      seqOffsets: db.prepare(
        'SELECT seq, offset FROM sbx_blocks WHERE uid = ? AND version = ? AND seq BETWEEN ? AND ? AND id <= ? ORDER BY seq, offset',
      ),
      distinctSeqs: db.prepare(
        'SELECT DISTINCT seq FROM sbx_blocks WHERE uid = ? AND version = ? AND seq BETWEEN ? AND ? AND id <= ? ORDER BY seq',
      ),
      duplicatedSeqs: db.prepare(
        'SELECT seq FROM sbx_blocks WHERE uid = ? AND version = ? AND seq BETWEEN 1 AND ? AND id <= ? GROUP BY seq HAVING COUNT(*) > 1 ORDER BY seq',
      ),
      countsOfUid: db.prepare(
        'SELECT kind, COUNT(*) AS n, COUNT(DISTINCT seq) AS distinctSeqs FROM sbx_blocks WHERE uid = ? AND version = ? AND id <= ? GROUP BY kind',
      ),
    };
    for (const u of this.stmts.uids.all() as { uid: string; blocks: number; maxId: number; firstOffset: number }[]) {
      this.perUid.set(u.uid, u);
    }
    for (const g of db.prepare('SELECT uid, version, d, p FROM sbx_rs_geometry').all() as RsGeometry[]) {
      this.geometry.set(`${g.uid}/${g.version}`, g);
    }
  }
  /** False once the cache's database is closed (the mount followed the drive to another medium). */
  get open(): boolean {
    return this.db.open;
  }


  /** The RS geometry recorded for a container (from the first metadata block found with RSD and RSP). */
  geometryOf(uid: string, version: SbxVersion): RsGeometry | undefined {
    return this.geometry.get(`${uid}/${version}`);
  }

  /**
   * Adds found blocks and marks the `scanned` byte ranges as scanned, in one transaction.
   * `geometries` are RS geometries learnt from metadata blocks among them.
   */
  record(blocks: readonly FoundBlock[], geometries: readonly RsGeometry[], scanned: readonly { start: number; end: number }[] = []): number {
    // The maps change only once the transaction committed: a failed commit (a full disk) must leave them as the
    // database is, or the retry would skip the geometry (never stored) and count its blocks twice.
    const newGeometry = new Map<string, RsGeometry>();
    const inserted: { uid: string; id: number; pos: number }[] = [];
    this.db.transaction(() => {
      for (const g of geometries) {
        const key = `${g.uid}/${g.version}`;
        if (this.geometry.has(key) || newGeometry.has(key)) continue;
        this.stmts.insertGeometry.run(g.uid, g.version, g.d, g.p);
        newGeometry.set(key, g);
        this.stmts.markParity.run(g.uid, g.version, g.d + g.p, g.d);
      }
      for (const { pos, header: b } of blocks) {
        const uid = uidToHex(b.uid);
        const key = `${uid}/${b.version}`;
        const g = this.geometry.get(key) ?? newGeometry.get(key);
        const kind: BlockKind = b.seq === 0 ? 'meta' : g && (b.seq - 1) % (g.d + g.p) >= g.d ? 'parity' : 'data';
        const r = this.stmts.insert.run(pos, uid, b.seq, b.version, kind);
        if (r.changes > 0) inserted.push({ uid, id: Number(r.lastInsertRowid), pos });
      }
      for (const r of scanned) if (r.end > r.start) this.stmts.insertScanned.run(r.start, r.end);
    })();
    for (const [key, g] of newGeometry) this.geometry.set(key, g);
    for (const { uid, id, pos } of inserted) {
      const u = this.perUid.get(uid);
      if (u) {
        u.blocks++;
        u.maxId = Math.max(u.maxId, id);
        u.firstOffset = Math.min(u.firstOffset, pos);
      } else {
        this.perUid.set(uid, { uid, blocks: 1, maxId: id, firstOffset: pos });
      }
    }
    return inserted.length;
  }

  /** Scanned byte ranges, merged and sorted. Compacts the table when it has grown fragmented. */
  scannedRanges(): { start: number; end: number }[] {
    const rows = this.stmts.scanned.all() as { start: number; end: number }[];
    const merged: { start: number; end: number }[] = [];
    for (const r of rows) {
      const last = merged[merged.length - 1];
      if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
      else merged.push({ ...r });
    }
    if (merged.length < rows.length) {
      this.db.transaction(() => {
        this.stmts.clearScanned.run();
        for (const r of merged) this.stmts.insertScanned.run(r.start, r.end);
      })();
    }
    return merged;
  }

  /** The burst level settled for a container (key: rescued-container.ts burstKey), kept across remounts. */
  settledBurst(container: string): number | undefined {
    return (this.stmts.settledBurst.get(container) as { burst: number } | undefined)?.burst;
  }

  /** Records a container's burst level once and for all (a level recorded before is kept). */
  settleBurst(container: string, burst: number): void {
    this.stmts.settleBurst.run(container, burst);
  }

  /** Largest row id so far: a reader pins it to see a fixed set of blocks. */
  maxId(): number {
    return (this.stmts.maxId.get() as { maxId: number }).maxId;
  }

  maxIdOfUid(uid: string): number {
    return this.perUid.get(uid)?.maxId ?? 0;
  }

  /** UIDs found, in order of their first block on the medium. */
  uids(): { uid: string; blocks: number; maxId: number }[] {
    return [...this.perUid.values()].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  metadataBlocks(uid: string, upToId: number): IndexedBlock[] {
    return (this.stmts.metaOfUid.all(uid, upToId) as BlockRow[]).map(toBlock);
  }

  firstBlock(uid: string, upToId: number): IndexedBlock | undefined {
    const r = this.stmts.firstOfUid.get(uid, upToId) as BlockRow | undefined;
    return r && toBlock(r);
  }

  /** Blocks of one container with seq in [fromSeq, toSeq], ordered by seq then offset. */
  blocksInSeqRange(uid: string, version: SbxVersion, fromSeq: number, toSeq: number, upToId: number): IndexedBlock[] {
    return (this.stmts.seqRange.all(uid, version, fromSeq, toSeq, upToId) as BlockRow[]).map(toBlock);
  }

  maxSeq(uid: string, version: SbxVersion, upToId: number): number {
    return (this.stmts.maxSeq.get(uid, version, upToId) as { s: number }).s;
  }

  /** The first `limit` non-metadata blocks of a container in medium order (for guessing the burst level). */
  firstDataBlocks(uid: string, version: SbxVersion, upToId: number, limit: number): IndexedBlock[] {
    return (this.stmts.firstDataByOffset.all(uid, version, upToId, limit) as BlockRow[]).map(toBlock);
  }

  /** (seq, offset) of blocks with seq in [fromSeq, toSeq], by seq then offset (raw rows, for bulk loading). */
  seqOffsets(uid: string, version: SbxVersion, fromSeq: number, toSeq: number, upToId: number): Iterable<{ seq: number; offset: number }> {
    return this.stmts.seqOffsets.iterate(uid, version, fromSeq, toSeq, upToId) as Iterable<{ seq: number; offset: number }>;
  }

  /** Distinct seqs found in [fromSeq, toSeq], ascending. */
  *distinctSeqs(uid: string, version: SbxVersion, fromSeq: number, toSeq: number, upToId: number): Generator<number> {
    for (const r of this.stmts.distinctSeqs.iterate(uid, version, fromSeq, toSeq, upToId) as Iterable<{ seq: number }>) yield r.seq;
  }

  /** Seqs in [1, toSeq] found more than once, ascending. */
  *duplicatedSeqs(uid: string, version: SbxVersion, toSeq: number, upToId: number): Generator<number> {
    for (const r of this.stmts.duplicatedSeqs.iterate(uid, version, toSeq, upToId) as Iterable<{ seq: number }>) yield r.seq;
  }

  /** Blocks (and distinct seqs) per kind. */
  counts(uid: string, version: SbxVersion, upToId: number): Record<BlockKind, { blocks: number; seqs: number }> {
    const out: Record<BlockKind, { blocks: number; seqs: number }> = {
      meta: { blocks: 0, seqs: 0 },
      data: { blocks: 0, seqs: 0 },
      parity: { blocks: 0, seqs: 0 },
    };
    for (const r of this.stmts.countsOfUid.all(uid, version, upToId) as { kind: BlockKind; n: number; distinctSeqs: number }[]) {
      out[r.kind] = { blocks: r.n, seqs: r.distinctSeqs };
    }
    return out;
  }
}
