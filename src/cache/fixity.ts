// Fixity of the cache: a CRC-32 (./crc32, ~12 GB/s) of every stored chunk, kept in the SQLite state and written
// in the same transaction as the chunk's '+'. A chunk is the run of sectors one commit turned '+' (a device read of
// up to 1 MiB, an imported span, the identity samples); it stays '+' for good, so its checksum stays valid.
//
// - Chunks loaded at open are checked the first time they are served (once per session; warm reads then pay
//   nothing): damaged bytes are never served, the reader gets EIO, the damage is counted in /status and logged.
// - `blkfs verify` checks every chunk (verifyAll), lists damaged ranges, and records the time of the check.
// - Caches made before checksums existed have '+' sectors without a chunk: they are served as before, and the
//   first `blkfs verify` checksums them as they are (trust on first verify), reporting how many bytes that was.
// - Every other cache is complete (fixity.complete): there a '+' sector without a chunk is damage (its state was
//   altered), refused like a chunk that fails its check, never adopted.
import type Database from 'better-sqlite3';
import { OperationError } from '../errors';
import { crc32 } from './crc32';
import { DamagedRanges } from './damaged-ranges';
import type { Extent } from './extent-map';
import { mergeDamaged, uncovered } from './fixity-ranges';
import { ensureTable, FIXITY_TABLE, fixityComplete, markComplete } from './fixity-table';

const LAST_VERIFY_KEY = 'fixity.lastVerification';
/** First-serve checks read this far ahead on the data file, checking the chunks there in the same pread. */
const CHECK_AHEAD_BYTES = 4 * 1024 * 1024;
/** blkfs verify reads contiguous chunks in preads of up to this size. */
const VERIFY_READ_BYTES = 8 * 1024 * 1024;
/** Sectors without a checksum are checksummed in pieces of at most this size (first verify of an old cache). */
const ADOPT_PIECE_BYTES = 1024 * 1024;

/** Bytes of the cache that do not match their checksum (or are missing from the data file). */
export class ChunkDamagedError extends OperationError {
  constructor(
    readonly offset: number,
    readonly length: number,
    detail: string,
  ) {
    super(`cache damaged: bytes ${offset}..${offset + length} (${length} bytes) ${detail}; not served. Run blkfs verify for the full list`);
    this.name = 'ChunkDamagedError';
  }
}

const DAMAGE_DETAIL: Record<DamagedRange['reason'], string> = {
  checksum: 'do not match their checksum',
  missing: 'are missing from the data file',
  unrecorded: "have no checksum in a cache that records one for every stored chunk (its state was altered)",
};

function damagedError(d: DamagedRange): ChunkDamagedError {
  return new ChunkDamagedError(d.offset, d.length, DAMAGE_DETAIL[d.reason]);
}

export interface DamagedRange {
  offset: number;
  length: number;
  reason: 'checksum' | 'missing' | 'unrecorded';
}

export interface VerifyReport {
  /** Bytes of '+' sectors checked against their checksum. */
  checkedBytes: number;
  chunks: number;
  damaged: DamagedRange[];
  damagedBytes: number;
  /** '+' bytes that had no checksum (an older cache): checksummed now, as they are. */
  adoptedBytes: number;
  at: string;
  seconds: number;
}

export interface FixityStatus {
  chunks: number;
  /** Chunks checked this session (first serve or verify) and found damaged. */
  verifiedChunks: number;
  damagedChunks: number;
  damagedBytes: number;
  /** Damaged chunks read again from the medium while mounted. */
  repairs: number;
  lastVerification?: { at: string; damagedBytes: number; checkedBytes: number };
}

/** A run of sectors stored in one commit, and the CRC of its bytes. */
export interface Chunk {
  start: number;
  count: number;
  crc: number;
}

export interface ChunkGeometry {
  sectorSize: number;
  size: number;
}

export interface ChunkReader extends ChunkGeometry {
  /** Bytes [offset, offset+length) of the data file; a short file rejects or returns fewer bytes. */
  readData(offset: number, length: number): Promise<Buffer>;
}

export function crcOf(data: Buffer): number {
  return crc32(data);
}

/** Where chunk `c` lies in the data file: the medium's last sector may be partial. */
export function chunkBytes(c: { start: number; count: number }, g: ChunkGeometry): { offset: number; length: number } {
  const offset = c.start * g.sectorSize;
  return { offset, length: Math.min(g.size, (c.start + c.count) * g.sectorSize) - offset };
}

/** What is wrong with chunk `c`, if anything, in `data`: the data file's bytes from byte `from`, fewer where it ended. */
export function chunkDamage(c: Chunk, data: Buffer, from: number, g: ChunkGeometry): DamagedRange | undefined {
  const { offset, length } = chunkBytes(c, g);
  if (offset - from + length > data.length) return { offset, length, reason: 'missing' };
  if (crcOf(data.subarray(offset - from, offset - from + length)) !== c.crc >>> 0) return { offset, length, reason: 'checksum' };
  return undefined;
}

/** The chunk holding `sector`, or undefined (not stored, or stored before checksums existed). */
export function chunkAt(db: Database.Database, sector: number): Chunk | undefined {
  const c = db.prepare(`SELECT start, count, crc FROM ${FIXITY_TABLE} WHERE start <= ? ORDER BY start DESC LIMIT 1`).get(sector) as Chunk | undefined;
  return c && c.start + c.count > sector ? c : undefined;
}

/**
 * Largest piece crcOfInTurns() checksums in one turn of the event loop: ~45 us (~115 us with zlib's CRC). A whole
 * 2 MiB prefetch took 0.4 ms in one go with zlib's, on the event loop that also answers the FUSE requests of the
 * reader waiting for the next bytes and drains the NBD socket of the read in flight (nbdkit's send stalls on a
 * full socket meanwhile).
 */
export const CRC_TURN_BYTES = 512 * 1024;

/** crcOf() in pieces of CRC_TURN_BYTES, letting the event loop run in between. `data` must not change meanwhile. */
export async function crcOfInTurns(data: Buffer): Promise<number> {
  let crc = 0;
  for (let at = 0; at < data.length; at += CRC_TURN_BYTES) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    crc = crc32(data.subarray(at, Math.min(data.length, at + CRC_TURN_BYTES)), crc);
  }
  return crc;
}

export class FixityLedger {
  private readonly insertStmt: Database.Statement;
  // Chunks that existed at open, sorted by start: each is checked once before it is first served.
  private readonly starts: number[];
  private readonly counts: number[];
  private readonly crcs: number[];
  private readonly checked: Uint8Array;
  /** Chunks forgotten (untried) since open: stored anew as other chunks, so a check of their old bytes says nothing. */
  private readonly replaced: Uint8Array;
  private unchecked: number;
  private verifiedChunks = 0;
  private repairs = 0;
  /** Known damage, keyed by first byte (a chunk's start, or an unrecorded run's): never served. */
  private readonly damaged = new DamagedRanges<DamagedRange>();
  /** forget() calls so far: verifyAll sees a repair made while it read. */
  private forgets = 0;
  /** Every '+' sector has a chunk (fixityComplete): one without is damage, not an older cache's sector to adopt. */
  private complete: boolean;

  private constructor(
    private readonly db: Database.Database,
    private readonly reader: ChunkReader,
  ) {
    this.insertStmt = db.prepare(`INSERT OR REPLACE INTO ${FIXITY_TABLE} (start, count, crc) VALUES (?, ?, ?)`);
    const rows = db.prepare(`SELECT start, count, crc FROM ${FIXITY_TABLE} ORDER BY start`).all() as Chunk[];
    this.starts = rows.map((r) => r.start);
    this.counts = rows.map((r) => r.count);
    this.crcs = rows.map((r) => r.crc);
    this.checked = new Uint8Array(rows.length);
    this.replaced = new Uint8Array(rows.length);
    this.unchecked = rows.length;
    this.complete = fixityComplete(db);
  }

  /** Creates the table when missing (an older cache), then loads the chunks. */
  static open(db: Database.Database, reader: ChunkReader): FixityLedger {
    ensureTable(db);
    return new FixityLedger(db, reader);
  }

  /**
   * At open, in a complete cache: '+' sectors no chunk covers are refused as damaged (read again from the medium when
   * it is attached and identified, as a chunk that fails its check), never served unchecked. A cache without the
   * marker all of whose '+' sectors have their chunk is marked complete.
   */
  refuseUnrecorded(extents: readonly Extent[]): void {
    const rows = this.starts.map((start, i) => ({ start, count: this.counts[i] }));
    const unrecorded = uncovered(extents.filter((e) => e.status === '+'), rows);
    if (!this.complete) {
      // A cache made by a version before the marker, every '+' sector with its chunk: complete from now on. (Best
      // effort: an existing cache must open on a full disk; it is marked at a later open or verify.)
      if (unrecorded.length === 0) {
        try {
          markComplete(this.db);
          this.complete = true;
        } catch {
          // not marked now
        }
      }
      return;
    }
    const ss = this.reader.sectorSize;
    for (const [a, b] of unrecorded) this.damaged.set({ offset: a * ss, length: this.bytesOf(a, b - a), reason: 'unrecorded' });
  }

  /** Records a chunk: call inside the transaction that marks its sectors '+'. */
  record(start: number, count: number, data: Buffer): void {
    this.insertStmt.run(start, count, crcOf(data));
  }

  /** Records a chunk whose CRC was taken before its bytes were dropped from memory (same transaction rule). */
  recordCrc(start: number, count: number, crc: number): void {
    this.insertStmt.run(start, count, crc >>> 0);
  }

  /** Whether sectors [a, b) may be served without checkBeforeServe (no unchecked or damaged chunk among them). */
  servable(a: number, b: number): boolean {
    if (this.unchecked === 0 && this.damaged.size === 0) return true;
    if (this.damagedIn(a, b)) return false;
    for (let i = Math.max(0, this.lastAtOrBefore(a)); i < this.starts.length && this.starts[i] < b; i++) {
      if (this.starts[i] + this.counts[i] <= a) continue;
      if (!this.checked[i]) return false;
    }
    return true;
  }

  /**
   * Before serving '+' sectors [a, b): checks each chunk loaded at open that overlaps them and was not checked yet.
   * Rejects with ChunkDamagedError when one does not match (its bytes are never served).
   */
  async checkBeforeServe(a: number, b: number): Promise<void> {
    if (this.unchecked === 0 && this.damaged.size === 0) return;
    const known = this.damagedIn(a, b);
    if (known) throw damagedError(known);
    let i = Math.max(0, this.lastAtOrBefore(a));
    const batch: number[] = [];
    for (; i < this.starts.length && this.starts[i] < b; i++) {
      const start = this.starts[i];
      if (start + this.counts[i] <= a) continue;
      if (!this.checked[i]) batch.push(i);
    }
    if (batch.length === 0) return;
    // A sequential reader comes back for the next chunks: check the unchecked ones that follow on the data file
    // in the same pread (up to CHECK_AHEAD_BYTES), so the check costs one read and a CRC pass, not a round trip each.
    const ss = this.reader.sectorSize;
    let j = batch[batch.length - 1] + 1;
    const limit = this.starts[batch[0]] * ss + CHECK_AHEAD_BYTES;
    while (j < this.starts.length && !this.checked[j] && this.starts[j] === this.starts[j - 1] + this.counts[j - 1] && (this.starts[j] + this.counts[j]) * ss <= limit) batch.push(j++);
    const found = await this.checkRun(batch);
    for (const r of found) if (r.offset < b * ss && r.offset + r.length > a * ss) throw damagedError(r);
  }

  /**
   * A damaged range known in sectors [a, b): found by a first-serve check or by verifyAll, of a chunk loaded at open
   * or stored since (the open-time arrays know only the former: a chunk stored this session that a mounted verify
   * found damaged was served on).
   */
  private damagedIn(a: number, b: number): DamagedRange | undefined {
    const ss = this.reader.sectorSize;
    return this.damaged.firstOverlapping(a * ss, b * ss);
  }

  /** Checks chunks (indices into the open-time arrays, ascending) with as few preads as they are contiguous. */
  private async checkRun(indices: number[]): Promise<DamagedRange[]> {
    const found: DamagedRange[] = [];
    let k = 0;
    while (k < indices.length) {
      let e = k + 1;
      while (e < indices.length && this.starts[indices[e]] === this.starts[indices[e - 1]] + this.counts[indices[e - 1]]) e++;
      const first = indices[k];
      const last = indices[e - 1];
      const from = this.starts[first] * this.reader.sectorSize;
      const data = await this.readSectors(this.starts[first], this.starts[last] + this.counts[last]);
      for (let x = k; x < e; x++) {
        const i = indices[x];
        // Forgotten while its bytes were read (a repair by another reader): a verdict on them would be stale.
        if (this.replaced[i]) continue;
        const d = chunkDamage({ start: this.starts[i], count: this.counts[i], crc: this.crcs[i] }, data, from, this.reader);
        if (!this.checked[i]) {
          this.checked[i] = 1;
          this.unchecked--;
          this.verifiedChunks++;
        }
        if (d) {
          this.damaged.set(d);
          found.push(d);
        }
      }
      k = e;
    }
    return found;
  }

  /** Every chunk and every '+' extent: damaged ranges, and checksums for '+' sectors that had none. */
  async verifyAll(extents: readonly Extent[], onProgress: (done: number, total: number) => void = () => {}): Promise<VerifyReport> {
    const t0 = Date.now();
    const ss = this.reader.sectorSize;
    const rowsAt = this.forgets;
    const rows = this.db.prepare(`SELECT start, count, crc FROM ${FIXITY_TABLE} ORDER BY start`).all() as Chunk[];
    const current = this.db.prepare(`SELECT start, count, crc FROM ${FIXITY_TABLE} WHERE start = ?`);
    const plus = extents.filter((e) => e.status === '+');
    const total = plus.reduce((n, e) => n + this.bytesOf(e.start, e.count), 0);
    let done = 0;
    let checkedBytes = 0;
    const damaged: DamagedRange[] = [];
    for (let k = 0; k < rows.length; ) {
      // Contiguous chunks up to VERIFY_READ_BYTES in one pread.
      let e = k + 1;
      while (e < rows.length && rows[e].start === rows[e - 1].start + rows[e - 1].count && (rows[e].start + rows[e].count - rows[k].start) * ss <= VERIFY_READ_BYTES) e++;
      const from = rows[k].start * ss;
      // A repair (forget, then the sectors read and stored anew) meanwhile: read again, so no verdict is taken on bytes
      // from before it against a checksum from after it, nor on a forgotten chunk (its damage would block its new bytes).
      let data: Buffer;
      let readAt: number;
      let tries = 0;
      do {
        readAt = this.forgets;
        data = await this.readSectors(rows[k].start, rows[e - 1].start + rows[e - 1].count);
      } while (readAt !== this.forgets && ++tries < 3);
      for (let x = k; x < e; x++) {
        const r = rowsAt === this.forgets ? rows[x] : (current.get(rows[x].start) as Chunk | undefined);
        if (!r || r.count !== rows[x].count) continue; // forgotten (untried again) or stored anew in other chunks
        const len = this.bytesOf(r.start, r.count);
        const d = chunkDamage(r, data, from, this.reader);
        checkedBytes += len;
        done += len;
        if (d) {
          damaged.push(d);
          this.damaged.set(d);
        }
      }
      onProgress(done, total);
      k = e;
    }
    // '+' sectors no chunk covers: damage in a complete cache; else an older cache's, checksummed as they are (unless
    // the data file lacks them), after which the cache is complete.
    let adoptedBytes = 0;
    const pieceSectors = Math.max(1, Math.floor(ADOPT_PIECE_BYTES / ss));
    const adopting = !this.complete;
    for (const [a, b] of uncovered(plus, rows)) {
      if (!adopting) {
        const d: DamagedRange = { offset: a * ss, length: this.bytesOf(a, b - a), reason: 'unrecorded' };
        damaged.push(d);
        this.damaged.set(d);
        done += d.length;
        continue;
      }
      for (let s = a; s < b; s += pieceSectors) {
        const n = Math.min(pieceSectors, b - s);
        const want = this.bytesOf(s, n);
        const data = await this.reader.readData(s * ss, want).catch(() => Buffer.alloc(0));
        if (data.length < want) {
          damaged.push({ offset: s * ss, length: want, reason: 'missing' });
        } else {
          this.insertStmt.run(s, n, crcOf(data));
          adoptedBytes += want;
        }
        done += want;
        onProgress(done, total);
      }
    }
    if (adopting && !damaged.some((d) => d.reason === 'missing')) {
      markComplete(this.db);
      this.complete = true;
    }
    damaged.sort((x, y) => x.offset - y.offset);
    const report: VerifyReport = {
      checkedBytes,
      chunks: rows.length,
      damaged: mergeDamaged(damaged),
      damagedBytes: damaged.reduce((n, d) => n + d.length, 0),
      adoptedBytes,
      at: new Date().toISOString(),
      seconds: (Date.now() - t0) / 1000,
    };
    this.db
      .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(LAST_VERIFY_KEY, JSON.stringify({ at: report.at, damagedBytes: report.damagedBytes, checkedBytes: report.checkedBytes }));
    return report;
  }

  /** Forgets the checksums of chunks overlapping sectors [a, b) (their sectors are about to be untried again). */
  forget(a: number, b: number): void {
    this.forgets++;
    this.db.prepare(`DELETE FROM ${FIXITY_TABLE} WHERE start < ? AND start + count > ?`).run(b, a);
    for (let i = Math.max(0, this.lastAtOrBefore(a)); i < this.starts.length && this.starts[i] < b; i++) {
      if (this.starts[i] + this.counts[i] <= a) continue;
      this.replaced[i] = 1;
      if (!this.checked[i]) this.unchecked--;
      this.checked[i] = 1;
    }
    const ss = this.reader.sectorSize;
    this.damaged.deleteOverlapping(a * ss, b * ss);
  }

  /** A damaged chunk was read again from the medium (its sectors were untried, then stored anew). */
  noteRepair(): void {
    this.repairs++;
  }

  status(): FixityStatus {
    const chunks = (this.db.prepare(`SELECT count(*) AS n FROM ${FIXITY_TABLE}`).get() as { n: number }).n;
    const last = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(LAST_VERIFY_KEY) as { value: string } | undefined;
    const damagedBytes = this.damaged.values().reduce((n, d) => n + d.length, 0);
    return {
      chunks,
      verifiedChunks: this.verifiedChunks,
      damagedChunks: this.damaged.size,
      damagedBytes,
      repairs: this.repairs,
      ...(last ? { lastVerification: JSON.parse(last.value) as FixityStatus['lastVerification'] } : {}),
    };
  }

  /** The data file's bytes of sectors [a, b); none when it cannot be read, so each chunk there is 'missing'. */
  private readSectors(a: number, b: number): Promise<Buffer> {
    const { offset, length } = chunkBytes({ start: a, count: b - a }, this.reader);
    return this.reader.readData(offset, length).catch(() => Buffer.alloc(0));
  }

  private bytesOf(start: number, count: number): number {
    return chunkBytes({ start, count }, this.reader).length;
  }

  private lastAtOrBefore(sector: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= sector) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}
