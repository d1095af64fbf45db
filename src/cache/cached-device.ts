// The sector cache: a BlockSource seen through a persistent cache. Each sector is read from the device at most once
// (single flight, '+' never re-read, '-' only with retries), written to the data file and made durable before the
// state says '+'. A reader of untried sectors gets its bytes once they are written; their '+' follows with the next
// group commit (fdatasync, then one transaction), and until then they stay in flight: served from memory to other
// readers, never read from the device again. After a crash, sectors whose commit was not durable are simply
// untried again (nothing ever claimed them); no '+' sector has wrong bytes.
// Its parts: cache-open.ts (opening, identity), device-reader.ts (device reads), span-fetch.ts (a span in one of
// ddrescue's modes), sector-store.ts (persisting, committing), readahead.ts, at-hand.ts (a read's hot path),
// cache-status.ts, stored-state.ts (the state's accessors).
import { cacheStatus, mapfileText, StatusInputs } from './cache-status';
import type { DeviceReader } from './device-reader';
import type { SectorStatus } from './extent-map';
import type { IdentityProbe } from './identity';
import { Readahead } from './readahead';
import { CachedDeviceOptions, checkReadahead } from './cached-device-options';
import { RescueOptions, RescueResult, RescueTarget, runRescuePasses, streamSectors } from './rescue-passes';
import type { CacheStatus, DeviceReadCounts, IntoRead, Priority, RangeRead, SectorCache } from './sector-cache';
import type { SectorStore } from './sector-store';
import { FlightHandle, InflightRanges } from './single-flight';
import { copyFrom, fillAtHand, readCachedOnly } from './at-hand';
import { ChunkDamagedError, VerifyReport } from './fixity';
import { FetchMode, fetchSpan, Outcome, wholeSpanData } from './span-fetch';
import { CopyStream } from './copy-stream';
import { CacheClosedError } from './errors';
import { StoredState } from './stored-state';
import { RateNow } from './rate-meter';
import { SourceLostError } from '../source/block-source';

const DEFAULT_MAX_READ = 1024 * 1024;

/** A state decided without a device read, for sectors still in status `from`. */
export interface Mark {
  start: number;
  count: number;
  status: SectorStatus;
  from: SectorStatus;
}

export class CachedDevice extends StoredState implements SectorCache, RescueTarget {
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly retries: number;
  private readonly inflight = new InflightRanges();
  private readonly readerRate = new RateNow(); // busyRateNow()
  private readonly maxReadSectors: number;
  private readonly readahead: Readahead | undefined;
  private copyStream: CopyStream | undefined; // the copying pass's write-behind and span buffers, while it runs
  private closed = false;
  private closing = false; // close() has begun: no new prefetch starts, queued ones are dropped
  private isRetired = false; // the mount serves another medium now (retire())
  private servingCheck?: () => Promise<void> | undefined; // checkBeforeServing()
  private readonly repair: Pick<CachedDeviceOptions, 'canRepair' | 'onRepair'>;

  /** Built by cache-open.ts (openCache, openOffline) once the state is loaded and the medium's identity checked. */
  constructor(
    readonly cacheDir: string,
    private readonly device: DeviceReader,
    store: SectorStore,
    readonly identityProbe: IdentityProbe,
    opts: CachedDeviceOptions,
  ) {
    super(store);
    this.size = device.size;
    this.sectorSize = device.sectorSize;
    this.sectorCount = store.map.sectorCount;
    this.retries = Math.max(0, Math.floor(opts.retries ?? 0));
    this.maxReadSectors = Math.max(1, Math.floor((opts.maxReadBytes ?? DEFAULT_MAX_READ) / this.sectorSize));
    this.repair = { canRepair: opts.canRepair, onRepair: opts.onRepair };
    store.onUnseenFailure = opts.onUnseenFailure;
    const ra = checkReadahead(opts.readaheadBytes);
    if (Math.ceil(ra / this.sectorSize) > 0) {
      const ctx = { map: store.map, inflight: this.inflight, device, store, closing: () => this.closing || this.closed };
      this.readahead = new Readahead(ctx, ra);
    }
  }

  // ------------------------------------------------------------------------------------------------- reading

  /**
   * Reads [offset, offset+length) clamped to the medium. Cached sectors come from the cache; missing ones from the
   * device, once. Stops at the first unreadable sector: `data` is the good prefix and `errorAt` the bad byte.
   * Rejects with SourceLostError or TransientReadError (nothing marked) or CacheFullError (nothing new marked).
   */
  async read(offset: number, length: number, priority: Priority = 'foreground'): Promise<RangeRead> {
    this.checkRange(offset, length);
    const end = Math.min(this.size, offset + length);
    if (offset >= end) return { data: Buffer.alloc(0) };
    const target = Buffer.allocUnsafe(end - offset);
    const { bytes, errorAt } = await this.readInto(offset, target, priority);
    const data = bytes === target.length ? target : target.subarray(0, bytes);
    return errorAt === undefined ? { data } : { data, errorAt };
  }

  /**
   * Like read(), into target[0, n): fills the good prefix of [offset, offset+target.length) clamped to the medium
   * and says how many bytes that is (the /raw path: straight into the kernel's buffer). Cached runs take one pread
   * each; bytes fetched from the device are copied in as soon as they are written to the data file. Their '+' is
   * recorded later by the group commit, after fdatasync: until then the sectors stay in flight, so no other reader
   * reads them from the device again (it is served the same bytes, or waits for the commit).
   */
  readInto(offset: number, target: Buffer, priority: Priority = 'foreground'): IntoRead | Promise<IntoRead> {
    if (this.isRetired && priority === 'foreground') throw new CacheClosedError(this.cacheDir);
    const judging = priority === 'foreground' ? this.servingCheck?.() : undefined;
    if (judging) return judging.then(() => this.readInto(offset, target, priority));
    this.checkRange(offset, target.length);
    const end = Math.min(this.size, offset + target.length);
    if (priority === 'foreground' && offset < end) {
      this.readerRate.add(end - offset);
      this.readahead?.noteRead(offset, end);
    }
    // The hot path of a copy: bytes in memory or in the page cache are served at once, without a promise.
    const at = fillAtHand(this.store, this.inflight, offset, end, target);
    if (at >= end) return { bytes: at - offset };
    return this.fill(offset, end, at, target, priority);
  }

  /** readInto()'s general loop from byte `at` (bytes before it are in target already). */
  private async fill(offset: number, end: number, at: number, target: Buffer, priority: Priority): Promise<IntoRead> {
    const ss = this.sectorSize;
    const endSector = Math.ceil(end / ss);
    const map = this.store.map;
    let attemptedUpTo = 0; // sectors below this were tried by this call: a '-' among them is final for this call
    while (at < end) {
      const s = Math.floor(at / ss);
      const run = map.runAt(s);
      const runEnd = run.start + run.count;
      if (run.status === '+') {
        const upTo = Math.min(end, runEnd * ss);
        try {
          await this.store.fixity.checkBeforeServe(s, Math.ceil(upTo / ss)); // once per chunk and session
        } catch (e) {
          if (!(e instanceof ChunkDamagedError) || !this.repair.canRepair?.()) throw e;
          this.untryDamaged(e);
          continue; // the loop finds the sectors untried and reads them from the medium
        }
        const now = map.runAt(s); // another reader may have repaired (untried) some of them meanwhile: look again
        if (now.status !== '+' || (now.start + now.count) * ss < upTo) continue;
        await this.store.readCachedInto(target, at - offset, at, upTo - at);
        at = upTo;
        continue;
      }
      const flight = this.inflight.covering(s);
      if (flight) {
        if (flight.data) {
          at += copyFrom(flight.data, flight.start * ss, at, Math.min(end, flight.end * ss), target, offset);
        } else if (flight.written) {
          // After a failed fdatasync the data file may have lost these uncommitted pages (some file systems drop them:
          // a hole then reads as zeros): not served; the reader waits for the flight's end, then meets the failure.
          const upTo = Math.min(end, flight.end * ss);
          if (!this.store.syncFailure) await this.store.readWrittenInto(target, at - offset, at, upTo - at);
          if (this.store.syncFailure) await flight.done;
          else at = upTo;
        } else {
          this.readahead?.promote(flight); // a reader waits for it now
          await flight.ready;
        }
        continue;
      }
      if (run.status === '-' && (s < attemptedUpTo || this.store.tries.valueAt(s) >= this.retries)) {
        return { bytes: at - offset, errorAt: Math.max(offset, s * ss) };
      }
      const e = run.status === '-' ? s + 1 : Math.min(runEnd, endSector, this.inflight.nextStartAfter(s), s + this.maxReadSectors);
      const got = await this.fetchForReader(s, e, run.status, run.status === '?' ? 'narrow' : 'forward', priority);
      attemptedUpTo = Math.max(attemptedUpTo, e);
      // Bytes in hand (committed or not): serve them; otherwise the state is committed and the loop looks again.
      if (got) at += copyFrom(got, s * ss, at, Math.min(end, e * ss), target, offset);
    }
    return { bytes: at - offset };
  }

  /**
   * Until the returned function is called a reader's order is the point (The Sleuth Kit reading the filesystem
   * metadata): no new readahead, and on a slow device the passes' reads hold one slot. Reads already started finish.
   */
  yieldToReaders(): () => void {
    const undo = [this.readahead?.suspend(), this.device.narrowBackground()];
    return () => undo.forEach((end) => end?.());
  }

  /** Sectors that are readable from the cache alone: a '+' byte range reader (export, the block scanner). */
  async readCachedBytes(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    return this.readCachedInto(offset, length, buf).then(() => buf);
  }

  /** readCachedBytes() into target[0, length): a follower of the cache reuses its buffers (no garbage per MiB). */
  async readCachedInto(offset: number, length: number, target: Buffer): Promise<void> {
    this.checkOpen();
    await readCachedOnly(this.store, offset, length, target);
  }

  /** A damaged chunk, medium attached and identified: its sectors are read again (logged as a repair). */
  private untryDamaged(e: ChunkDamagedError): void {
    const ss = this.sectorSize;
    this.store.untry(Math.floor(e.offset / ss), Math.ceil((e.offset + e.length) / ss));
    this.store.fixity.noteRepair();
    this.repair.onRepair?.(`repair: ${e.message.replace(/; not served.*$/, '')}: reading those bytes from the medium again`);
  }

  private checkRange(offset: number, length: number): void {
    this.checkOpen();
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`bad read range ${offset}+${length}`);
    }
  }

  /**
   * Reads sectors [start, end) (all in status `from`, none in flight) from the device in the given mode, then
   * persists what it learnt: data first, durable, then the state. Returns the outcomes once committed, or, for a
   * copying span of untried sectors read whole, once written — during an acquisition, at once while its write-behind
   * allows (its '+' follows with the next group commit; until then the sectors stay in flight, as a reader's early
   * answer: flush() waits for it). Outcomes carry no bytes of a reused span buffer. On SourceLostError (or
   * TransientReadError) the sectors read before it are still kept; nothing is marked for the rest.
   * Sectors a reader took in flight since the caller looked (a few microtasks earlier) are left to that reader:
   * the span ends before them, or nothing is read at all (no outcomes).
   */
  async fetch(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Outcome[]> {
    if (this.inflight.covering(start)) return [];
    end = Math.min(end, this.inflight.nextStartAfter(start));
    const flight = this.inflight.add(start, end); // synchronously: concurrent callers see the flight at once
    if (this.store.room.wasFull || this.store.syncFailure) await this.roomFor(flight, start, end);
    // The acquisition streams (copy-stream.ts): a span up to its size is read into a reused buffer; a span of untried
    // sectors read whole is written while the pass reads on, its '+' left to the next group commit (an early answer).
    const stream = mode === 'stream' && from === '?' ? this.copyStream : undefined;
    const reused = stream?.bufferFor(Math.min(this.size, end * this.sectorSize) - start * this.sectorSize);
    // Sector-wise spans (trimming, scraping) can last minutes on a failing drive: each sector goes to the group
    // commit as it is read, so a crash loses at most a commit window of them, not the whole span.
    const keeper = mode === 'forward' || mode === 'backward' || mode === 'scrape' ? this.store.keeper() : undefined;
    const { outcomes, failure } = await fetchSpan({ device: this.device, start, end, from, mode, priority, into: reused, keep: keeper?.keep });
    if (keeper) {
      const keptFailure = await keeper.settled().finally(() => flight.release());
      if (keptFailure !== undefined || failure !== undefined) throw keptFailure ?? failure;
      return outcomes;
    }
    const streaming = (mode === 'copy' || mode === 'stream') && from === '?' && failure === undefined;
    const whole = streaming ? wholeSpanData(outcomes, start, end) : undefined;
    const early = whole && this.store.canAnswerEarly(whole.length) ? whole : undefined;
    const settled = this.store.settle(flight, outcomes, early, reused === undefined);
    await (this.copyStream ? this.copyStream.follow(settled, early, reused) : settled);
    if (failure !== undefined) throw failure;
    return reused ? outcomes.map((o) => (o.data === reused ? { ...o, data: undefined } : o)) : outcomes;
  }

  /**
   * fetch() for a reader: when all of [start, end) was read and written to the data file, returns its bytes
   * without waiting for the commit (the flight lasts until then, so the sectors are read from the device once).
   * Otherwise (a bad sector, a lost source, too much not yet committed, a commit that failed before) waits for
   * the commit like fetch() and returns undefined: the caller then looks at the committed state.
   */
  private async fetchForReader(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Buffer | undefined> {
    const flight = this.inflight.add(start, end);
    if (this.store.room.wasFull || this.store.syncFailure) await this.roomFor(flight, start, end);
    // Sectors read one by one (finding a failed read's bad sector, or a '*' area) are committed as they are read, as
    // in fetch(): a crash during a long sector-wise span loses a commit window of them, not all. The flight lasts
    // until they are committed (no second device read of them).
    const { keep, kept, settled } = this.store.keeper();
    const { outcomes, failure } = await fetchSpan({ device: this.device, start, end, from, mode, priority, keep });
    const keptFailure = await settled();
    const whole = failure === undefined ? wholeSpanData(outcomes, start, end) : undefined;
    // Only untried sectors are answered early: a retried '-' sector is rare and its reader sees its new state.
    const early = whole && from === '?' && !kept.has(outcomes[0]) && this.store.canAnswerEarly(whole.length) ? whole : undefined;
    await this.store.settle(flight, kept.size === 0 ? outcomes : outcomes.filter((o) => !kept.has(o)), early);
    if (keptFailure !== undefined) throw keptFailure;
    if (failure !== undefined) throw failure;
    return whole;
  }

  /** After the cache's disk was full (disk-room.ts) or an fdatasync failed: no device read unless its bytes can be kept. */
  private async roomFor(flight: FlightHandle, start: number, end: number): Promise<void> {
    try {
      if (this.store.syncFailure) throw this.store.syncFailure;
      await this.store.room.check(Math.min(this.size, end * this.sectorSize) - start * this.sectorSize);
    } catch (e) {
      flight.release();
      throw e;
    }
  }

  /** Records state decided without a device read (e.g. a trimmed block's middle becoming '/'). */
  async mark(start: number, count: number, status: SectorStatus, from: SectorStatus): Promise<void> {
    await this.store.commitOutcomes([{ start, count, status, from }]);
  }

  /** Records many such states in one transaction (an imported rescue's bad areas); each applies only from its `from`. */
  async markAll(marks: readonly Mark[]): Promise<void> {
    if (marks.length > 0) await this.store.commitOutcomes(marks.map((m) => ({ ...m })));
  }

  /**
   * Records sectors [start, start+count) as '+' with bytes obtained elsewhere (an existing rescue): they are held as
   * in flight while `load` runs, written, made durable, then committed. Call only for sectors not in flight.
   */
  async storeSectors(start: number, count: number, load: () => Promise<Buffer>): Promise<void> {
    const flight = this.inflight.add(start, start + count);
    try {
      const data = await load();
      const expected = Math.min(this.size, (start + count) * this.sectorSize) - start * this.sectorSize;
      if (data.length !== expected) throw new Error(`storeSectors: ${data.length} bytes for ${expected}`);
      await this.store.persist([{ start, count, status: '+', data }]);
    } finally {
      flight.release();
    }
  }

  // ------------------------------------------------------------------------------------------------- state

  /** Waits for any device read covering `sector`; true if there was one. */
  async waitForFlight(sector: number): Promise<boolean> {
    const f = this.inflight.covering(sector);
    if (f) await f.done;
    return f !== undefined;
  }

  nextFlightAfter(sector: number): number {
    return this.inflight.nextStartAfter(sector);
  }

  private statusInputs(): StatusInputs {
    const saved = this.store.savedProgress();
    return {
      cacheDir: this.cacheDir,
      size: this.size,
      sectorSize: this.sectorSize,
      map: this.store.map,
      device: this.device,
      identityProbe: this.identityProbe,
      retries: this.retries,
      acquiring: this.copyStream ? saved : undefined,
      saved,
    };
  }

  /** Calls `fn` with this session's device read counts after each device read (any reader's); returns the unsubscriber. */
  watchDeviceReads(fn: (counts: DeviceReadCounts) => void): () => void {
    return this.device.watchCounts(fn);
  }

  /** Bytes per second the device is read at, or the mount's readers ask for, right now: background work waits while high. */
  busyRateNow(): number {
    return Math.max(this.device.rateNow(), this.readerRate.bytesPerSecond());
  }

  status(): CacheStatus {
    const storeFailure = this.store.storeFailure;
    return { ...cacheStatus(this.statusInputs()), fixity: this.store.fixity.status(), ...(storeFailure ? { storeFailure } : {}) };
  }

  /** Checks every stored byte against its checksum (blkfs verify on a mounted cache). */
  verifyFixity(onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
    return this.store.fixity.verifyAll(this.store.map.extents(), onProgress);
  }

  /** The state as a GNU ddrescue mapfile, from one snapshot. */
  mapfileText(): string {
    return mapfileText(this.statusInputs());
  }

  // ------------------------------------------------------------------------------------------------- lifecycle

  /** ddrescue's strategy over the whole medium at background priority (see rescue-passes.ts). */
  async acquire(opts: RescueOptions = {}): Promise<RescueResult> {
    this.checkOpen();
    if (this.copyStream) throw new Error('an acquisition is already running on this cache');
    this.copyStream = new CopyStream(streamSectors(opts, this.sectorSize) * this.sectorSize, (e) => this.store.noteUnseenFailure(e));
    try {
      return await runRescuePasses(this, opts);
    } catch (e) {
      // What was read before the failure is still committed when it can be. That commit's own error (often the same
      // full disk) belongs to a failure to store, not to a later unmount; after a lost source (which marks nothing, and
      // is no failure at all when the stop hung up on a read) it is still nobody's: flush()/close() report it.
      const late = await this.flush().then(
        () => undefined,
        (f: unknown) => f,
      );
      if (late !== undefined && e instanceof SourceLostError) this.store.noteUnseenFailure(late);
      throw e;
    } finally {
      this.copyStream = undefined;
      await this.store.saveProgress(); // persist the final status line
    }
  }

  /**
   * Resolves once the sectors readers were answered with so far are committed (or their commit failed: flush()
   * reports that), without waiting for device reads still under way. /raw calls it when a program closes the
   * file, so what the program read is in the mapfile it opens next. That includes bytes served from a flight (a
   * prefetch, another reader's read) whose commit is not even submitted yet: its write may still be under way.
   */
  commitPending(): Promise<void> {
    return this.store.commitPending(this.inflight.answered());
  }

  /** Resolves once the acquisition's spans read so far are committed (or failed), hurrying their group commit. */
  async commitCopies(): Promise<void> {
    return (this.copyStream?.written() ?? Promise.resolve()).then(() => this.store.commitPending());
  }

  /**
   * Resolves when every device read started so far is committed (readers may have been answered before their
   * commit). Rejects with a commit error that no reader saw, once.
   */
  flush(): Promise<void> {
    return this.store.flush(() => this.inflight.settled());
  }

  /**
   * The mount serves another medium from now on: a program's reads of this one (on a file it opened before the
   * switch) get ENOMEDIUM at once, as a drive answers them, not this medium's cached bytes until close() has ended.
   */
  retire(): void {
    this.isRetired = true;
  }

  get retired(): boolean {
    return this.isRetired;
  }

  /** Caches following the drive: `check` runs before a program's read, even of cached sectors; the read waits for the
   * verdict it returns (rejecting unless the medium in the drive is this one), or goes on at once when it returns none. */
  checkBeforeServing(check: () => Promise<void> | undefined): void {
    this.servingCheck = check;
  }

  /** The medium judged another was not taken over after all, and this one is back in the drive: serve it again. */
  reinstate(): void {
    this.isRetired = false;
  }

  /**
   * Finishes in-flight work (waits for every pending commit) and closes the state and data file. The source stays
   * open (its owner closes it). Rejects, after closing, with a commit error no reader saw.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true; // no new readahead; queued prefetches are dropped, running ones finish and commit
    let failure: unknown;
    await this.flush().catch((e: unknown) => (failure = e));
    this.closed = true;
    this.device.detach();
    await this.store.close();
    if (failure !== undefined) throw failure;
  }

  private checkOpen(): void {
    if (this.closed) throw new CacheClosedError(this.cacheDir);
  }
}

