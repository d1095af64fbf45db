// The cache's SQLite database (better-sqlite3, WAL): medium identity, sector state as run-length extents, per-sector
// retry counts (also run-length), and key/value settings. Other layers may add their own tables to the same file
// through database() (issue 4's sbx index), so one transaction can cover the sector state and their rows.
import Database from 'better-sqlite3';
import * as fs from 'fs';
import { Run, RunLengthMap, SectorMap, SectorStatus } from './extent-map';
import { CacheBusyError, CacheDamagedError, CacheFullError, isDiskFull, JournalSyncError } from './errors';
import { UserError } from '../errors';
import { mergeRanges } from './byte-ranges';
import { CachePathError } from './private-files';

/** The error code that keeps `dir` from being written (EROFS, EACCES), or undefined when it can be. */
function unwritable(dir: string): string | undefined {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EACCES';
  }
}

export interface StoredIdentity {
  size: number;
  sectorSize: number;
  /** sha256 over the readable sectors of the first 64 KiB (see identity.ts). */
  fingerprint: string;
  /** Sectors compared against the medium when the cache is reopened. */
  probeSectors: number[];
  /** Optional cheap identity of a regular-file source (dev/ino/size/mtime) that lets a reopen skip the probe. */
  stableIdentity?: string;
}

const SCHEMA_VERSION = 1;

/** A run-length map mirrored in a table (start PRIMARY KEY, count, value) that tiles [0, length). */
class RunTable<V extends string | number> {
  private readonly selectAll: Database.Statement;
  private readonly rowAtOrBefore: Database.Statement;
  private readonly deleteRange: Database.Statement;
  private readonly insert: Database.Statement;

  constructor(
    db: Database.Database,
    table: string,
    column: string,
  ) {
    this.selectAll = db.prepare(`SELECT start, count, ${column} AS v FROM ${table} ORDER BY start`);
    this.rowAtOrBefore = db.prepare(`SELECT start, count FROM ${table} WHERE start <= ? ORDER BY start DESC LIMIT 1`);
    this.deleteRange = db.prepare(`DELETE FROM ${table} WHERE start >= ? AND start < ?`);
    this.insert = db.prepare(`INSERT INTO ${table} (start, count, ${column}) VALUES (?, ?, ?)`);
  }

  load(): Run<V>[] {
    return (this.selectAll.all() as { start: number; count: number; v: V }[]).map((r) => ({
      start: r.start,
      count: r.count,
      status: r.v,
    }));
  }

  reset(length: number, initial: V): void {
    this.deleteRange.run(0, Number.MAX_SAFE_INTEGER);
    if (length > 0) this.insert.run(0, length, initial);
  }

  /**
   * Brings the table in line with `map` over the changed sector ranges. Each range is widened to the map's run
   * boundaries and to the boundaries of the rows it touches (until both agree), then its rows are replaced by the
   * map's runs. Rows stay maximal and tile the medium, so the table costs one row per run.
   */
  sync(map: RunLengthMap<V>, ranges: readonly [number, number][]): void {
    for (const [a, b] of mergeRanges(ranges)) {
      let lo = map.runAt(a).start;
      let hi = runEnd(map.runAt(b - 1));
      for (;;) {
        const left = this.rowAtOrBefore.get(lo) as { start: number; count: number } | undefined;
        const right = this.rowAtOrBefore.get(hi - 1) as { start: number; count: number } | undefined;
        let nlo = lo;
        let nhi = hi;
        if (left && left.start < lo) nlo = map.runAt(left.start).start;
        if (right && right.start + right.count > hi) nhi = runEnd(map.runAt(right.start + right.count - 1));
        if (nlo === lo && nhi === hi) break;
        lo = nlo;
        hi = nhi;
      }
      this.deleteRange.run(lo, hi);
      for (const r of map.runs(lo, hi - lo)) this.insert.run(r.start, r.count, r.status);
    }
  }
}

function runEnd(r: Run<unknown>): number {
  return r.start + r.count;
}

export class StateStore {
  private readonly extentsTable: RunTable<SectorStatus>;
  private readonly retriesTable: RunTable<number>;
  private readonly getSettingStmt: Database.Statement;
  private readonly setSettingStmt: Database.Statement;
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    private readonly cacheDir: string,
  ) {
    this.extentsTable = new RunTable<SectorStatus>(db, 'extents', 'status');
    this.retriesTable = new RunTable<number>(db, 'retries', 'tries');
    this.getSettingStmt = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.setSettingStmt = db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
  }

  /**
   * Opens (creating) the database. It is held with an exclusive lock for the life of the connection: two processes
   * driving one cache would keep diverging maps, so a second opener gets CacheBusyError. The kernel drops the lock
   * when a process dies, so kill -9 never leaves a cache locked.
   */
  static open(path: string, cacheDir: string): StateStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      // Looked at before anything is written (WAL mode is a write to the file's header): a database that is not ours
      // is left exactly as it was.
      const version = db.pragma('user_version', { simple: true }) as number;
      // A cache made by a newer blkfs is the user's to open with that blkfs (exit 1), not a failure (it was a plain Error).
      if (version > SCHEMA_VERSION) throw new UserError(`cache database ${path} has schema ${version}, newer than this blkfs: open it with the blkfs that made it`);
      if (version === 0) refuseForeign(db, path);
      db.pragma('journal_mode = WAL');
      // FULL: a commit is durable when it returns, so a sector we answered for is never read again after a power cut.
      db.pragma('synchronous = FULL');
      db.exec('BEGIN IMMEDIATE; COMMIT'); // take the exclusive lock now
      // An existing cache opens without writing, so it can still be read on a full disk.
      if (version < SCHEMA_VERSION) db.exec(`
        CREATE TABLE IF NOT EXISTS identity (
          id INTEGER PRIMARY KEY CHECK (id = 1),
          size INTEGER NOT NULL, sector_size INTEGER NOT NULL,
          fingerprint TEXT NOT NULL, probe_sectors TEXT NOT NULL, stable_identity TEXT,
          created_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS extents (start INTEGER PRIMARY KEY, count INTEGER NOT NULL, status TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS retries (start INTEGER PRIMARY KEY, count INTEGER NOT NULL, tries INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
      return new StateStore(db, path, cacheDir);
    } catch (e) {
      db?.close();
      const code = (e as { code?: string }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new CacheBusyError(cacheDir);
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') throw new CacheDamagedError(cacheDir, `its database ${path} is unreadable (${(e as Error).message})`);
      if (isDiskFull(e)) throw new CacheFullError(path, e);
      // SQLite says only "disk I/O error" (it cannot lock or journal): name the path and the cause the user can fix.
      const denied = /^SQLITE_(IOERR|READONLY|CANTOPEN)/.test(code ?? '') ? unwritable(cacheDir) : undefined;
      if (denied) throw new CachePathError(cacheDir, denied, `its database cannot be opened (${(e as Error).message}): ${denied === 'EROFS' ? 'the file system is read-only' : 'it is not writable'}; a cache is opened for writing, copy it to a writable place`);
      throw e;
    }
  }

  identity(): StoredIdentity | undefined {
    const row = this.db.prepare('SELECT * FROM identity WHERE id = 1').get() as
      | { size: number; sector_size: number; fingerprint: string; probe_sectors: string; stable_identity: string | null }
      | undefined;
    if (!row) {
      // initialize() writes the identity and the sector state in one transaction: state without an identity is a
      // damaged database, not a cache never initialised (which would be created anew, over its rescued sectors).
      if (this.db.prepare('SELECT 1 FROM extents LIMIT 1').get()) throw new CacheDamagedError(this.cacheDir, `its database ${this.path} holds sector state but no identity`);
      return undefined;
    }
    // Checked as read: a damaged or hand-edited row made a TypeError or a Node range error further on (exit 2 either
    // way, but saying nothing of where); probe sectors outside the medium would be read past the data file's end.
    const bad = (what: string) => new CacheDamagedError(this.cacheDir, `its database ${this.path} holds a malformed identity (${what})`);
    const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    if (!isCount(row.size)) throw bad(`size ${String(row.size)}`);
    if (!isCount(row.sector_size) || row.sector_size === 0) throw bad(`sector size ${String(row.sector_size)}`);
    let probeSectors: unknown;
    try {
      probeSectors = JSON.parse(row.probe_sectors);
    } catch {
      probeSectors = undefined;
    }
    const sectors = Math.max(1, Math.ceil(row.size / row.sector_size));
    if (!Array.isArray(probeSectors) || !probeSectors.every((s) => isCount(s) && s < sectors)) throw bad(`probe sectors ${String(row.probe_sectors).slice(0, 80)}`);
    return {
      size: row.size,
      sectorSize: row.sector_size,
      fingerprint: row.fingerprint,
      probeSectors: probeSectors as number[],
      stableIdentity: row.stable_identity ?? undefined,
    };
  }

  /**
   * Records a new medium: its identity and its initial sector state in one transaction, so a database either has
   * an identity and a state that tiles the medium, or neither (a crash during creation leaves nothing to trust).
   */
  initialize(id: StoredIdentity, map: SectorMap): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM identity').run();
      this.db
        .prepare(
          'INSERT INTO identity (id, size, sector_size, fingerprint, probe_sectors, stable_identity, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)',
        )
        .run(id.size, id.sectorSize, id.fingerprint, JSON.stringify(id.probeSectors), id.stableIdentity ?? null, new Date().toISOString());
      this.extentsTable.reset(0, '?');
      const insert = this.db.prepare('INSERT INTO extents (start, count, status) VALUES (?, ?, ?)');
      for (const r of map.extents()) insert.run(r.start, r.count, r.status);
      this.retriesTable.reset(map.sectorCount, 0);
    });
  }

  setStableIdentity(value: string | undefined): void {
    this.db.prepare('UPDATE identity SET stable_identity = ? WHERE id = 1').run(value ?? null);
  }

  /** The sector map as stored; rows that do not tile the medium (damaged, hand-edited) are a CacheDamagedError. */
  loadSectorMap(sectorCount: number): SectorMap {
    try {
      return SectorMap.fromRuns(sectorCount, this.extentsTable.load());
    } catch (err) {
      if (!(err instanceof Error) || !/^sector runs /.test(err.message)) throw err;
      throw new CacheDamagedError(this.cacheDir, `its database ${this.path} holds a broken sector map (${err.message})`);
    }
  }

  loadRetryCounts(sectorCount: number): RunLengthMap<number> {
    const map = new RunLengthMap<number>(sectorCount, 0);
    for (const r of this.retriesTable.load()) if (r.status !== 0) map.set(r.start, r.count, r.status);
    return map;
  }

  /** Writes the changed ranges of the in-memory maps. Call inside transaction(). */
  persistRuns(map: SectorMap, dirty: readonly [number, number][], tries: RunLengthMap<number>, dirtyTries: readonly [number, number][]): void {
    if (dirty.length) this.extentsTable.sync(map, dirty);
    if (dirtyTries.length) this.retriesTable.sync(tries, dirtyTries);
  }

  /** Runs fn in one SQLite transaction (BEGIN IMMEDIATE), durable when it returns. Disk-full surfaces as CacheFullError. */
  transaction<T>(fn: () => T): T {
    if (this.journalFailure) throw this.journalFailure; // nothing more is recorded over a journal that lost pages
    try {
      return this.db.transaction(fn).immediate();
    } catch (e) {
      if (isDiskFull(e)) throw new CacheFullError(this.path, e);
      throw e;
    }
  }

  /**
   * Like transaction(), but the commit does not wait for the disk on the event loop: it is written with
   * synchronous=NORMAL (SQLite appends to the WAL and does not sync it), and is durable only once syncJournal()
   * has resolved after it. Every other commit on this connection stays synchronous=FULL (durable when it returns;
   * its WAL sync covers the frames before it too). Checkpoints sync the WAL first in either mode.
   */
  transactionDeferringSync<T>(fn: () => T): T {
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.transaction(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  /**
   * fdatasync of the WAL on a pool thread (fsync works through any descriptor of the file): every transaction
   * committed before this call is durable when it resolves. Without a WAL (a checkpoint moved everything into the
   * database file and removed it, which SQLite does not do while it holds the database) the database file is synced.
   */
  async syncJournal(): Promise<void> {
    if (this.journalFailure) throw this.journalFailure;
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(`${this.path}-wal`, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fh = await fs.promises.open(this.path, 'r');
    }
    try {
      await fh.datasync();
    } catch (e) {
      // Once failed, never again: a later fdatasync (through any descriptor) succeeds over the pages it dropped. Disk
      // full too (delayed allocation): freeing space does not bring those pages back. No checkpoint of ours copies the
      // journal into the database after this (recovery at the next open keeps only the frames whose checksums hold),
      // but SQLite's own checkpoint when close() ends the last connection still runs: better-sqlite3 cannot turn it
      // off (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE). It copies the pages as the page cache holds them, which for '+'
      // are states whose bytes the data file's sync made durable first.
      this.journalFailure ??= new JournalSyncError(`${this.path}-wal`, e);
      try {
        this.db.pragma('wal_autocheckpoint = 0');
      } catch {
        // the connection is closing: no checkpoint from it either
      }
      throw this.journalFailure;
    } finally {
      await fh.close();
    }
  }

  /** Set for good once an fdatasync of the journal failed (JournalSyncError). */
  journalFailure: JournalSyncError | undefined;

  getSetting(key: string): string | undefined {
    const row = this.getSettingStmt.get(key) as { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    if (this.journalFailure) throw this.journalFailure;
    this.setSettingStmt.run(key, value);
  }

  /**
   * The database handle, for layers that keep their own tables beside the sector state (name them with a prefix,
   * e.g. `sbx_`; never write identity/extents/retries). Synchronous better-sqlite3 calls, same connection.
   */
  database(): Database.Database {
    return this.db;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.journalFailure) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // a full disk can refuse the checkpoint; the WAL stays and is replayed on the next open
    }
    this.db.close();
  }
}

/** The tables a blkfs cache database holds (a version-0 database with any other table is someone else's). */
const OUR_TABLES = new Set(['identity', 'extents', 'retries', 'settings']);

/** A database without our schema version that holds tables of its own: not a cache, and not ours to change (exit 1). */
function refuseForeign(db: Database.Database, path: string): void {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map((t) => t.name);
  const foreign = tables.filter((t) => !OUR_TABLES.has(t));
  if (foreign.length > 0) {
    const named = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', ...' : '');
    throw new UserError(`${path} is an SQLite database that is not a blkfs cache (it has table(s) ${named}): left as it is; give --cache a directory of its own`);
  }
}
