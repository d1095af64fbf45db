// Persisting and committing sectors. '+' bytes are written to the data file first; their state follows with a group
// commit (fdatasync covers every write before it, then one transaction records the batch), so a sector is '+' only
// once its bytes are durable. Small cached reads keep their 64 KiB block in memory.
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import type { DataFile } from './data-file';
import { Extent, Run, RunLengthMap, SectorMap } from './extent-map';
import { GroupCommit } from './group-commit';
import type { MapfilePhase } from './mapfile';
import type { FlightHandle } from './single-flight';
import type { Outcome } from './span-fetch';
import { coalesce, leavesAsIs } from './outcome-rules';
import type { StateStore } from './state-store';
import type { StoreFailure } from './sector-cache';
import { FixityLedger, crcOfInTurns } from './fixity';
import { HeldBytes } from './held-bytes';
import { DiskRoom } from './disk-room';
import { CacheFullError } from './errors';

/** The status line of an acquisition (phase, pass, position), kept with the state so it survives a restart. */
export interface Progress {
  phase: MapfilePhase;
  pass: number;
  currentPos: number;
}

const PROGRESS_KEY = 'acquire.progress';
const DEFAULT_MEMORY = 64 * 1024 * 1024;
const MEMORY_BLOCK = 64 * 1024;
/** Reads up to this size keep their block in the memory cache; larger (streaming) reads go to the data file. */
const MEMORY_SMALL_READ = 16 * 1024;
/** Bytes answered to readers but not yet committed: past this, a reader waits for its commit (how far durability
 * may lag behind reading; these bytes are in the data file, not in memory). */
export const MAX_UNCOMMITTED = 256 * 1024 * 1024;
/** Early-answered reads (a streaming reader, readahead, the copying pass) are committed in groups of this many
 * bytes or this often: each commit is an fdatasync of the data file, a SQLite commit and an fdatasync of its WAL. */
const COMMIT_CADENCE = { lazyBytes: 32 * 1024 * 1024, lazyDelayMs: 100 };
/** A synchronous pread slower than this (the data file is not in the page cache) pauses them (see readNow()). */
const SLOW_SYNC_READ_MS = 2;
const SYNC_READ_PAUSE_MS = 1000;

export class SectorStore {
  readonly sectorSize: number;
  readonly size: number;
  /** The last data write or group commit failed (e.g. disk full): readers wait for their own commits (and see
   * such errors) until a commit succeeds. */
  persistFailed = false;
  /** Bytes answered to readers (or prefetched) and not yet committed. */
  uncommittedBytes = 0;
  private readonly committer: GroupCommit<Outcome[]>;
  private readonly memory: LRUCache<number, Buffer> | undefined;
  private readonly blockSectors: number;
  private readonly listeners = new Set<(offset: number, length: number) => void>();
  /** A commit failure no caller saw yet (its readers were answered before it): reported by flush()/close(). */
  private deferredCommitError: unknown;
  /** Hears such a failure when it happens (the mount log), the first one until flush() reports it. */
  onUnseenFailure: ((e: unknown) => void) | undefined;
  /** The latest failure to store bytes this session (/status). */
  private lastFailure: { message: string; at: string } | undefined;
  private progress: Progress | undefined;
  private progressDirty = false;
  /** CRC-32 per stored chunk, recorded in the transaction that marks it '+' (fixity.ts). */
  readonly fixity: FixityLedger;
  /** Published bytes of flights held in memory for readers until their commit (readahead sizes and asks it). */
  readonly held = new HeldBytes();
  /** Whether the cache's disk has room for a device read's bytes, once it was found full. */
  readonly room: DiskRoom;
  /** untry() calls so far: a memory block read from the data file across one is not kept. */
  private untries = 0;
  /** No synchronous data-file read before this time (performance.now()): one was slow. */
  private syncReadsPausedUntil = 0;

  constructor(
    private readonly state: StateStore,
    private readonly data: DataFile,
    readonly map: SectorMap,
    readonly tries: RunLengthMap<number>,
    size: number,
    sectorSize: number,
    memoryBytes = DEFAULT_MEMORY,
  ) {
    this.size = size;
    this.sectorSize = sectorSize;
    this.committer = new GroupCommit<Outcome[]>((batch) => this.commit(batch.flat()), COMMIT_CADENCE);
    this.blockSectors = Math.max(1, Math.floor(MEMORY_BLOCK / sectorSize));
    if (memoryBytes >= this.blockSectors * sectorSize) {
      this.memory = new LRUCache<number, Buffer>({ maxSize: memoryBytes, sizeCalculation: (b) => b.length });
    }
    this.room = new DiskRoom(data.path);
    this.fixity = FixityLedger.open(state.database(), { sectorSize, size, readData: (o, l) => data.read(o, l) });
    const saved = state.getSetting(PROGRESS_KEY);
    if (saved) this.progress = JSON.parse(saved) as Progress;
  }

  /** Bytes [position, position+length) of '+' sectors into target[at...] (never a device read). */
  async readCachedInto(target: Buffer, at: number, position: number, length: number): Promise<void> {
    const mem = this.memory;
    if (mem && length <= MEMORY_SMALL_READ) {
      // Small reads (file system metadata, directory blocks) tend to come back: keep their block in memory.
      const bs = this.blockSectors * this.sectorSize;
      const b = Math.floor(position / bs);
      if (b === Math.floor((position + length - 1) / bs)) {
        let block = mem.get(b);
        const bStart = b * bs;
        if (!block) {
          const bEnd = Math.min(this.size, bStart + bs);
          const run = this.map.runAt(bStart / this.sectorSize);
          if (run.status === '+' && (run.start + run.count) * this.sectorSize >= bEnd) {
            block = Buffer.allocUnsafe(bEnd - bStart);
            const untries = this.untries;
            await this.data.readInto(block, 0, block.length, bStart);
            // A repair meanwhile may have replaced a damaged chunk of this block: these bytes are not kept then.
            if (untries === this.untries) mem.set(b, block);
          }
        }
        if (block) {
          block.copy(target, at, position - bStart, position - bStart + length);
          return;
        }
      }
    }
    await this.data.readInto(target, at, length, position);
  }

  /**
   * Bytes [position, position+length) of '+' sectors (or of a written flight) into target[at...] at once, when that
   * is cheap: from the memory cache, or with a pread on this thread while the data file answers from the page cache
   * (a warm /raw read then costs no threadpool round trip). `cached` false: bytes of a written flight (no memory
   * cache). False when the caller must use the async reads: a small read whose block is not in memory, or
   * synchronous reads paused because one was slow (a cold disk must not hold the event loop; they are tried again
   * a second later).
   */
  readNow(target: Buffer, at: number, position: number, length: number, cached = true): boolean {
    const mem = this.memory;
    if (cached && mem && length <= MEMORY_SMALL_READ) {
      const bs = this.blockSectors * this.sectorSize;
      const b = Math.floor(position / bs);
      const block = b === Math.floor((position + length - 1) / bs) ? mem.get(b) : undefined;
      if (!block) return false;
      block.copy(target, at, position - b * bs, position - b * bs + length);
      return true;
    }
    const now = performance.now();
    if (now < this.syncReadsPausedUntil) return false;
    this.data.readIntoSync(target, at, length, position);
    const took = performance.now() - now;
    if (took > SLOW_SYNC_READ_MS) this.syncReadsPausedUntil = now + took + SYNC_READ_PAUSE_MS;
    return true;
  }

  /**
   * Set for good once an fdatasync of the data file or of the state's journal failed: nothing more may be read into the
   * cache (DataFileSyncError, JournalSyncError).
   */
  get syncFailure(): Error | undefined {
    return this.data.syncFailure ?? this.state.journalFailure;
  }

  /** The latest failure to store bytes this session, if any (/status): whether storing still fails. */
  get storeFailure(): StoreFailure | undefined {
    return this.lastFailure && { ...this.lastFailure, ongoing: this.persistFailed || this.syncFailure !== undefined };
  }

  /** Whether `bytes` more may be answered before their commit (memory bound; not after a failed write or commit). */
  canAnswerEarly(bytes: number, alsoPending = 0): boolean {
    return !this.persistFailed && this.uncommittedBytes + alsoPending + bytes <= MAX_UNCOMMITTED;
  }

  /**
   * Stores what a span read learnt and ends its flight, the one way every device read ends. With `early` (the
   * bytes of a whole span of untried sectors, `outcomes` their one '+'): writes them to the data file, publishes
   * them to readers waiting on the flight and leaves their '+' to the next group commit, after which the flight
   * ends; resolves once written. Otherwise: writes the '+' data, commits, then ends the flight; resolves once
   * committed. Rejects if the write or commit fails (the flight is ended either way). `publish` false: `early` is
   * never handed to readers (its owner reuses it once this resolves or rejects; nothing here keeps it after that).
   */
  async settle(flight: FlightHandle, outcomes: Outcome[], early?: Buffer, publish = true): Promise<void> {
    if (early) return this.writeAndPublish(flight, outcomes[0].start, early, outcomes, publish);
    try {
      if (outcomes.length > 0) await this.persist(outcomes);
    } finally {
      flight.release();
    }
  }

  private async writeAndPublish(flight: FlightHandle, start: number, whole: Buffer, outcomes: Outcome[], publish: boolean): Promise<void> {
    // The bytes are right (the device gave them): readers waiting for them go on while they are written. A buffer
    // its owner reuses once written (publish false) is never shown: readers wait for the write, then read the file.
    if (publish) flight.publish(whole);
    const entry = this.held.hold(flight, publish ? whole.length : 0);
    const unhold = () => this.held.release(entry);
    const writing = this.data.write(start * this.sectorSize, whole);
    // Their checksum is taken while a pool thread writes them, from the bytes the reader got (in short turns: see
    // crcOfInTurns); committed with their '+'. Never rejects; not awaited after a failed write (nothing is committed).
    const crcs = Promise.all(outcomes.map((o) => (o.data ? crcOfInTurns(o.data) : undefined)));
    try {
      await writing;
    } catch (e) {
      this.noteFailure(e);
      unhold();
      flight.release();
      throw e;
    } finally {
      this.held.writeEnded(entry);
    }
    this.held.written(entry);
    const sums = await crcs; // before this resolves: the owner of `whole` may reuse it then
    const committed = outcomes.map((o, i) => ({ ...o, data: undefined, crc: sums[i] }));
    this.uncommittedBytes += whole.length;
    // The commit needs no bytes: they are in the data file, and dropped from memory when it is short.
    this.commitOutcomes(committed, whole.length).then(
      () => {
        this.uncommittedBytes -= whole.length;
        unhold();
        flight.release();
      },
      (e: unknown) => {
        // Nothing was recorded for these sectors (their reader already has the right bytes). Until a commit
        // succeeds, readers wait for their own commits and so see such errors; if none does, flush() reports it.
        this.uncommittedBytes -= whole.length;
        this.noteUnseenFailure(e);
        unhold();
        flight.release();
      },
    );
  }

  /** Bytes of a flight already in the data file (uncommitted): [position, position+length) into target[at...]. */
  async readWrittenInto(target: Buffer, at: number, position: number, length: number): Promise<void> {
    await this.data.readInto(target, at, length, position);
  }

  /** For a span read sector by sector (it can take minutes on a failing drive): `keep` persists each single-sector
   * outcome as soon as it is known, so a crash meanwhile loses at most a commit window of them; `settled()` resolves
   * once all kept are committed, with the first failure (undefined if none). `kept` are those outcomes. */
  keeper(): { keep: (o: Outcome) => void; kept: Set<Outcome>; settled: () => Promise<unknown> } {
    const kept = new Set<Outcome>();
    const pending: Promise<unknown>[] = [];
    return {
      kept,
      keep: (o) => {
        kept.add(o);
        pending.push(this.persist([o]).catch((e: unknown) => e));
      },
      settled: async () => (await Promise.all(pending)).find((r) => r !== undefined),
    };
  }

  /** Writes the '+' data, then hands the outcomes to the group commit; resolves once they are committed. */
  async persist(outcomes: Outcome[]): Promise<void> {
    try {
      for (const o of coalesce(outcomes)) if (o.data) await this.data.write(o.start * this.sectorSize, o.data);
    } catch (e) {
      this.noteFailure(e);
      throw e;
    }
    // A failure is this caller's; an earlier one whose readers were answered early stays for flush() (nobody was told).
    await this.commitOutcomes(outcomes);
  }

  /** The group commit of `outcomes`, keeping track of whether persisting fails. */
  commitOutcomes(outcomes: Outcome[], lazyWeight = 0): Promise<void> {
    return this.committer.submit(outcomes, lazyWeight).then(
      () => {
        this.persistFailed = false;
        this.room.noteStored();
      },
      (e: unknown) => {
        this.noteFailure(e);
        throw e;
      },
    );
  }

  /** A data write or commit failed: readers wait for their own commits; a full disk is checked before reading on. */
  private noteFailure(e: unknown): void {
    this.persistFailed = true;
    this.lastFailure = { message: e instanceof Error ? e.message : String(e), at: new Date().toISOString() };
    if (e instanceof CacheFullError) this.room.noteFull();
  }

  /** A failure nobody waits for (e.g. a prefetch's): flush()/close() report it. */
  noteUnseenFailure(e: unknown): void {
    if (this.deferredCommitError !== undefined) return;
    this.deferredCommitError = e;
    this.onUnseenFailure?.(e);
  }

  /** One group commit: fdatasync covers every write before it, then one transaction records the batch. */
  private async commit(outcomes: Outcome[]): Promise<void> {
    if (outcomes.some((o) => o.status === '+')) await this.data.sync();
    const undo: Extent[] = [];
    const undoTries: Run<number>[] = [];
    const dirty: [number, number][] = [];
    const dirtyTries: [number, number][] = [];
    const cached: [number, number][] = [];
    const chunks: [number, number, Buffer][] = [];
    const crcs: [number, number, number][] = [];
    for (const o of outcomes) {
      for (const r of this.map.runs(o.start, o.count)) {
        if (leavesAsIs(o, r.status)) continue;
        undo.push(r);
        this.map.set(r.start, r.count, o.status);
        dirty.push([r.start, r.start + r.count]);
        if (o.status === '+') cached.push([r.start, r.start + r.count]);
        if (o.status === '+' && o.data) {
          const at = (r.start - o.start) * this.sectorSize;
          chunks.push([r.start, r.count, o.data.subarray(at, Math.min(o.data.length, at + r.count * this.sectorSize))]);
        } else if (o.status === '+' && o.crc !== undefined && r.start === o.start && r.count === o.count) {
          crcs.push([r.start, r.count, o.crc]);
        }
      }
      if (o.retried && o.status === '-') {
        for (const r of this.tries.runs(o.start, o.count)) {
          undoTries.push(r);
          this.tries.set(r.start, r.count, r.status + 1);
          dirtyTries.push([r.start, r.start + r.count]);
        }
      }
    }
    try {
      this.state.transactionDeferringSync(() => {
        this.state.persistRuns(this.map, dirty, this.tries, dirtyTries);
        for (const [start, count, bytes] of chunks) this.fixity.record(start, count, bytes);
        for (const [start, count, crc] of crcs) this.fixity.recordCrc(start, count, crc);
        if (this.progressDirty && this.progress) this.state.setSetting(PROGRESS_KEY, JSON.stringify(this.progress));
      });
      this.progressDirty = false;
    } catch (e) {
      for (let i = undo.length - 1; i >= 0; i--) this.map.set(undo[i].start, undo[i].count, undo[i].status);
      for (let i = undoTries.length - 1; i >= 0; i--) this.tries.set(undoTries[i].start, undoTries[i].count, undoTries[i].status);
      throw e;
    }
    // The WAL's fdatasync runs on a pool thread, not on the event loop; the batch's waiters (flush(), readers past
    // the memory bound, close()) are answered only after it. Meanwhile the map already says '+' for bytes that are
    // durable in the data file: a reader is served the right bytes; a power cut before the sync loses only the state.
    await this.state.syncJournal();
    for (const [a, b] of cached) this.notifyCached(a, b);
  }

  /** Sectors [a, b) whose stored copy is lost (a damaged chunk) become untried, in one transaction with the loss of
   * their checksums, and leave the memory cache: the next reader reads them from the medium again. */
  untry(a: number, b: number): void {
    this.untries++;
    const undo = [...this.map.runs(a, b - a)];
    this.map.set(a, b - a, '?');
    try {
      this.state.transaction(() => {
        this.state.persistRuns(this.map, [[a, b]], this.tries, []);
        this.fixity.forget(a, b);
      });
    } catch (err) {
      for (const r of undo) this.map.set(r.start, r.count, r.status);
      throw err;
    }
    if (this.memory) {
      const bs = this.blockSectors * this.sectorSize;
      for (let blk = Math.floor((a * this.sectorSize) / bs); blk * bs < b * this.sectorSize; blk++) this.memory.delete(blk);
    }
  }

  private notifyCached(a: number, b: number): void {
    const offset = a * this.sectorSize;
    const length = Math.min(this.size, b * this.sectorSize) - offset;
    for (const l of this.listeners) {
      try {
        l(offset, length);
      } catch (e) {
        process.emitWarning(`onSectorsCached listener failed: ${(e as Error).message}`);
      }
    }
  }

  onSectorsCached(listener: (offset: number, length: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sets the status-line fields; persisted with the next commit. */
  setProgress(p: Progress): void {
    this.progress = p;
    this.progressDirty = true;
  }

  /** Marks the status line to be saved and commits it (at the end of an acquisition); never rejects. */
  async saveProgress(): Promise<void> {
    this.progressDirty = true;
    await this.committer.submit([]).catch(() => undefined);
  }

  savedProgress(): Progress | undefined {
    return this.progress ? { ...this.progress } : undefined;
  }

  /** See CachedDevice.commitPending(): `answered` are the flights whose bytes were served, committed hurried. */
  async commitPending(answered: readonly Promise<void>[] = []): Promise<void> {
    if (answered.length > 0) {
      const hurried = this.committer.hurry();
      try {
        await Promise.all(answered);
      } finally {
        hurried();
      }
    }
    return this.committer.settle();
  }

  /** Runs `waitForReads` with commits hurried, then waits for every commit; rejects once with an unseen failure. */
  async flush(waitForReads: () => Promise<void>): Promise<void> {
    const hurried = this.committer.hurry();
    try {
      await waitForReads();
      await this.committer.idle();
    } finally {
      hurried();
    }
    const err = this.deferredCommitError;
    if (err !== undefined) {
      this.deferredCommitError = undefined;
      throw err;
    }
  }

  getSetting(key: string): string | undefined {
    return this.state.getSetting(key);
  }

  setSetting(key: string, value: string): void {
    this.state.setSetting(key, value);
  }

  database(): Database.Database {
    return this.state.database();
  }

  identitySamples(): number[] {
    return this.state.identity()?.probeSectors ?? [];
  }

  async close(): Promise<void> {
    this.state.close();
    await this.data.close();
  }
}
