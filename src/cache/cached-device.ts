// The sector store: a BlockSource seen through a persistent cache. Each sector is read from the device at most once
// (single flight, '+' never re-read, '-' only with retries), written to the data file and made durable before the
// state says '+'. A reader of untried sectors gets its bytes once they are written; their '+' follows with the next
// group commit (fdatasync, then one transaction), and until then they stay in flight: served from memory to other
// readers, never read from the device again. After a crash, sectors whose commit was not durable are simply
// untried again (nothing ever claimed them); no '+' sector has wrong bytes.
// Opt-in readahead (readaheadBytes) prefetches untried sectors ahead of sequential readers through the same flights
// and commits; it never marks a sector anything but '+' (see prefetch()).
import * as fs from 'fs';
import * as path from 'path';
import type Database from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { BlockSource, MediaError, SourceLostError } from '../source/block-source';
import { AcquireOptions, AcquireResult, runAcquire } from './acquire';
import { DATA_FILE, STATE_FILE, candidateCaches, cacheDirName, defaultCacheRoot, freshDir, hasState, writeIdentityHint } from './cache-dir';
import { DataFile } from './data-file';
import { CacheMismatchError } from './errors';
import { Extent, Run, RunLengthMap, SectorMap, SectorStatus } from './extent-map';
import { GroupCommit } from './group-commit';
import { IdentityProbe, PROBE_BYTES, chooseProbeSectors, fingerprintOf } from './identity';
import { ProbeReader, ReadTally, readWindow, verifyProbe } from './identity-probe';
import { MapfilePhase, renderMapfile } from './mapfile';
import { Priority, PriorityScheduler, Promotable } from './priority-scheduler';
import { RateMeter } from './rate-meter';
import { MAX_READAHEAD_BYTES, ReadStream, StreamTable, planSpan, prefetchChunkBytes } from './readahead';
import { Flight, FlightHandle, InflightRanges } from './single-flight';
import { StateStore } from './state-store';
import { CacheDamagedError, FixityLedger, FixityStatus } from './fixity';
import { readSamples, spreadSampleSectors } from './medium-identity';
import { checkDataFileIntact } from './data-file-check';
import { createPrivateFile, ensurePrivateDir, tightenCacheDir } from './private-files';

export type { Priority } from './priority-scheduler';
export { MAX_READAHEAD_BYTES } from './readahead';

export interface CachedDeviceOptions {
  source: BlockSource;
  /** Explicit cache directory (one medium; another medium is a CacheMismatchError). */
  cacheDir?: string;
  /** Root for per-medium default directories; defaults to $XDG_CACHE_HOME/blkfs or ~/.cache/blkfs. */
  cacheRoot?: string;
  /** Extra device reads allowed per bad ('-') sector, counted across sessions. Default 0. */
  retries?: number;
  /** Bytes of hot 64 KiB blocks kept in memory for small reads (<= 16 KiB: metadata, directories); larger reads
   * go to the data file in one pread. Default 64 MiB; 0 disables. */
  memoryBytes?: number;
  /** Largest single device read. Default 1 MiB. */
  maxReadBytes?: number;
  /** Device reads in flight at once. Default 4. */
  concurrency?: number;
  /** Cheap identity of a regular-file source (e.g. "dev:ino:size:mtime"); when unchanged, reopening reads nothing. */
  stableIdentity?: string;
  /**
   * Sequential readahead window in bytes (at most MAX_READAHEAD_BYTES). Default 0: off, nothing is read from the
   * device that no reader asked for. When > 0, a foreground reader that continues where its previous read ended gets
   * up to this many untried bytes past its request prefetched at background priority (see prefetch()).
   */
  readaheadBytes?: number;
  /**
   * On creation also read SAMPLE_COUNT single sectors spread over the whole medium (stored like any read) and use
   * them to identify it later, so two discs with equal first 64 KiB are told apart (medium-identity.ts). The mount
   * server turns it on; off by default so library users and tests read only what they ask for.
   */
  spreadSamples?: boolean;
  /**
   * When it answers true (the medium is attached and identified), a stored chunk that fails its checksum is read
   * again from the medium (its sectors become untried, then are fetched like any missing sector) instead of
   * answering EIO. `onRepair` hears about each one (the mount logs it). Default: never (EIO).
   */
  canRepair?: () => boolean;
  onRepair?: (message: string) => void;
}

export interface RangeRead {
  /** The readable prefix of the request (shorter than asked when a bad sector stopped it, or at end of medium). */
  data: Buffer;
  /** Byte offset of the first unreadable sector when the read stopped there. */
  errorAt?: number;
}

/** What readInto() filled: target[0, bytes) holds the good prefix of the range. */
export interface IntoRead {
  bytes: number;
  /** Byte offset of the first unreadable sector when the read stopped there. */
  errorAt?: number;
}

export interface CacheStatus {
  size: number;
  sectorSize: number;
  cacheDir: string;
  bytesCached: number;
  bytesBad: number;
  bytesUntried: number;
  bytesNonTrimmed: number;
  bytesNonScraped: number;
  deviceReads: number;
  deviceBytes: number;
  deviceFailedReads: number;
  /** Of the device reads above: readahead's (reads that succeeded, their bytes, and failed ones). */
  prefetchReads: number;
  prefetchBytes: number;
  prefetchFailedReads: number;
  readRateBytesPerSec: number;
  phase: MapfilePhase;
  pass: number;
  currentPos: number;
  /** What opening read from the medium only to check its identity. */
  identityProbe: IdentityProbe;
  retries: number;
  /** Checksums of the stored chunks: checked on first serve and by blkfs verify. */
  fixity: FixityStatus;
}

/** A state change produced by a device read (or a decision, like marking a trimmed middle '/'). */
export interface Outcome {
  start: number;
  count: number;
  status: SectorStatus;
  /** Bytes for '+' outcomes (count sectors, the last possibly partial). */
  data?: Buffer;
  /** Non-'+' outcomes apply only to sectors still in this status (never downgrade what another read found). */
  from?: SectorStatus;
  /** A failed re-read of a '-' sector: counts against its retries. */
  retried?: boolean;
}

/** How a span is read. narrow: whole, then sector-wise to the first bad sector (foreground). copy: whole, a
 * failure marks the span '*' (ddrescue's copying pass). forward/backward: sector-wise until the first failure
 * (trimming). scrape: every sector on its own. */
export type FetchMode = 'narrow' | 'copy' | 'forward' | 'backward' | 'scrape';

const DEFAULT_MEMORY = 64 * 1024 * 1024;
const DEFAULT_MAX_READ = 1024 * 1024;
const MEMORY_BLOCK = 64 * 1024;
/** Reads up to this size keep their block in the memory cache; larger (streaming) reads go to the data file. */
const MEMORY_SMALL_READ = 16 * 1024;
/** Bytes answered to readers but not yet committed: past this, a reader waits for its commit (memory bound). */
const MAX_UNCOMMITTED = 32 * 1024 * 1024;

export class CachedDevice {
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly retries: number;
  private readonly maxReadSectors: number;
  private readonly inflight = new InflightRanges();
  private readonly scheduler: PriorityScheduler;
  private readonly committer: GroupCommit<Outcome[]>;
  private readonly memory: LRUCache<number, Buffer> | undefined;
  private readonly blockSectors: number;
  private readonly listeners = new Set<(offset: number, length: number) => void>();
  private readonly rate = new RateMeter();
  private readonly tally: ReadTally;
  private progress: { phase: MapfilePhase; pass: number; currentPos: number } | undefined;
  private progressDirty = false;
  private acquiring = false;
  private lastDevicePos = 0;
  private closed = false;
  /** close() has begun: no new prefetch starts, queued ones are dropped. */
  private closing = false;
  private uncommittedBytes = 0;
  /** Readahead settings and its recent readers; undefined when off. */
  private readonly readahead: { windowSectors: number; chunkSectors: number; streams: StreamTable } | undefined;
  /** Bytes of prefetch device reads issued and not yet answered (memory bound, with uncommittedBytes). */
  private prefetchPending = 0;
  private readonly prefetchTally = { reads: 0, bytes: 0, failedReads: 0 };
  /** Prefetch flights whose device read may still be queued: a reader waiting on one promotes it to foreground. */
  private readonly prefetchTickets = new WeakMap<Flight, Promotable>();
  /** The last data write or group commit failed (e.g. disk full): readers wait for their own commits (and see
   * such errors) until a commit succeeds. */
  private persistFailed = false;
  /** A commit failure no caller saw yet (its readers were answered before it): reported by flush()/close(). */
  private deferredCommitError: unknown;
  identityProbe: IdentityProbe = { method: 'created', sectors: 0, bytes: 0 };
  /** CRC-32 per stored chunk (see fixity.ts). */
  readonly fixity: FixityLedger;

  private readonly repairOpts: Pick<CachedDeviceOptions, 'canRepair' | 'onRepair'>;

  private constructor(
    readonly cacheDir: string,
    private readonly source: BlockSource,
    private readonly store: StateStore,
    private readonly data: DataFile,
    private readonly map: SectorMap,
    private readonly tries: RunLengthMap<number>,
    opts: CachedDeviceOptions,
    tally: ReadTally,
  ) {
    this.size = source.size;
    this.sectorSize = source.sectorSize;
    this.sectorCount = map.sectorCount;
    this.retries = Math.max(0, Math.floor(opts.retries ?? 0));
    this.maxReadSectors = Math.max(1, Math.floor((opts.maxReadBytes ?? DEFAULT_MAX_READ) / this.sectorSize));
    this.scheduler = new PriorityScheduler(opts.concurrency ?? 4);
    this.committer = new GroupCommit<Outcome[]>((batch) => this.commit(batch.flat()));
    this.tally = tally;
    this.blockSectors = Math.max(1, Math.floor(MEMORY_BLOCK / this.sectorSize));
    const memoryBytes = opts.memoryBytes ?? DEFAULT_MEMORY;
    if (memoryBytes >= this.blockSectors * this.sectorSize) {
      this.memory = new LRUCache<number, Buffer>({ maxSize: memoryBytes, sizeCalculation: (b) => b.length });
    }
    const ra = checkReadahead(opts.readaheadBytes);
    const windowSectors = Math.ceil(ra / this.sectorSize);
    if (windowSectors > 0) {
      const chunkSectors = Math.max(1, Math.floor(prefetchChunkBytes(ra, this.maxReadSectors * this.sectorSize) / this.sectorSize));
      this.readahead = { windowSectors, chunkSectors, streams: new StreamTable() };
    }
    this.repairOpts = { canRepair: opts.canRepair, onRepair: opts.onRepair };
    this.fixity = FixityLedger.open(store.database(), {
      sectorSize: this.sectorSize,
      size: this.size,
      readData: (o, l) => this.data.read(o, l),
    });
    const saved = store.getSetting('acquire.progress');
    if (saved) this.progress = JSON.parse(saved) as { phase: MapfilePhase; pass: number; currentPos: number };
  }

  // ------------------------------------------------------------------------------------------------- opening

  static async open(opts: CachedDeviceOptions): Promise<CachedDevice> {
    const src = opts.source;
    if (!Number.isSafeInteger(src.size) || src.size < 0) throw new RangeError(`bad medium size ${src.size}`);
    if (!Number.isInteger(src.sectorSize) || src.sectorSize <= 0) throw new RangeError(`bad sector size ${src.sectorSize}`);
    checkReadahead(opts.readaheadBytes);
    const tally: ReadTally = { reads: 0, bytes: 0, failedReads: 0 };
    const prober = new ProbeReader(src, tally);
    if (opts.cacheDir !== undefined) {
      const dir = path.resolve(opts.cacheDir);
      if (hasState(dir)) return CachedDevice.openExisting(dir, opts, tally, prober);
      return CachedDevice.create(dir, undefined, opts, tally);
    }
    const root = path.resolve(opts.cacheRoot ?? defaultCacheRoot());
    for (const cand of candidateCaches(root, src.size, src.sectorSize)) {
      if (cand.hint.probeSectors.length === 0) continue;
      const verdict = await verifyProbe(cand.hint.probeSectors, (s) => readCachedSector(cand.dir, src, s), prober);
      if (verdict.result === 'match') return CachedDevice.openExisting(cand.dir, opts, tally, prober, true);
    }
    return CachedDevice.create(undefined, root, opts, tally);
  }

  private static async openExisting(
    dir: string,
    opts: CachedDeviceOptions,
    tally: ReadTally,
    prober: ProbeReader,
    alreadyVerified = false,
  ): Promise<CachedDevice> {
    const src = opts.source;
    tightenCacheDir(dir);
    const store = StateStore.open(path.join(dir, STATE_FILE), dir);
    let data: DataFile | undefined;
    try {
      const id = store.identity();
      if (!id) {
        // Created but never initialized (crash during creation): it holds nothing that was recorded as read.
        store.close();
        return CachedDevice.create(dir, undefined, opts, tally);
      }
      if (id.size !== src.size || id.sectorSize !== src.sectorSize) {
        throw new CacheMismatchError(
          dir,
          `it holds a medium of ${id.size} bytes in ${id.sectorSize}-byte sectors, this one has ${src.size} bytes in ${src.sectorSize}-byte sectors`,
        );
      }
      const sectorCount = Math.ceil(src.size / src.sectorSize);
      const map = store.loadSectorMap(sectorCount);
      const tries = store.loadRetryCounts(sectorCount);
      checkDataFileIntact(dir, path.join(dir, DATA_FILE), map, src.sectorSize, src.size);
      data = await DataFile.open(path.join(dir, DATA_FILE), src.size);
      const dataFile = data;
      let probe: IdentityProbe;
      if (alreadyVerified) {
        probe = { method: 'probe', sectors: prober.sectors, bytes: prober.bytes };
      } else if (opts.stableIdentity !== undefined && id.stableIdentity === opts.stableIdentity) {
        probe = { method: 'stable-identity', sectors: 0, bytes: 0 };
      } else {
        let sectors = id.probeSectors;
        if (sectors.length === 0) {
          // The whole window was unreadable at creation: probe any cached sectors instead (none cached: nothing to protect).
          sectors = [];
          for (const r of map.extents()) {
            for (let s = r.start; r.status === '+' && s < r.start + r.count && sectors.length < Math.max(1, PROBE_BYTES / src.sectorSize); s++) sectors.push(s);
          }
        }
        const verdict = await verifyProbe(
          sectors,
          (s) => dataFile.read(s * src.sectorSize, Math.min(src.sectorSize, src.size - s * src.sectorSize)),
          prober,
        );
        if (verdict.result === 'mismatch') {
          throw new CacheMismatchError(dir, `sector ${verdict.sector} of this medium differs from the cached one`);
        }
        if (verdict.result === 'unverifiable') {
          throw new CacheMismatchError(dir, 'none of its identity sectors can be read from this medium, so it cannot be shown to be the same');
        }
        probe = { method: 'probe', sectors: prober.sectors, bytes: prober.bytes };
      }
      if (opts.stableIdentity !== undefined && opts.stableIdentity !== id.stableIdentity) store.setStableIdentity(opts.stableIdentity);
      const dev = new CachedDevice(dir, src, store, dataFile, map, tries, opts, tally);
      dev.identityProbe = probe;
      return dev;
    } catch (e) {
      await data?.close();
      store.close();
      throw e;
    }
  }

  /** A new cache: the fingerprint window is read once and becomes the cache's first '+' (or '-') sectors. */
  private static async create(dir: string | undefined, root: string | undefined, opts: CachedDeviceOptions, tally: ReadTally): Promise<CachedDevice> {
    const src = opts.source;
    const ss = src.sectorSize;
    ensurePrivateDir(dir ?? (root as string)); // a location that cannot hold a cache fails before any device read
    const window = await readWindow(src, tally);
    const fingerprint = fingerprintOf(src.size, ss, window);
    const probeSectors = chooseProbeSectors(window, ss);
    // Samples spread over the whole medium: two discs from one template differ somewhere past the first 64 KiB.
    const samples = opts.spreadSamples ? await readSamples(src, spreadSampleSectors(src.size, ss), tally) : new Map<number, Buffer | null>();
    const cacheDir = dir ?? freshDir(root as string, cacheDirName(fingerprint, src.size));
    ensurePrivateDir(cacheDir);
    createPrivateFile(path.join(cacheDir, STATE_FILE)); // SQLite gives its -wal and -shm files the same mode
    createPrivateFile(path.join(cacheDir, DATA_FILE));
    const store = StateStore.open(path.join(cacheDir, STATE_FILE), cacheDir);
    let data: DataFile | undefined;
    try {
      data = await DataFile.open(path.join(cacheDir, DATA_FILE), src.size);
      const sectorCount = Math.ceil(src.size / ss);
      const map = new SectorMap(sectorCount);
      const stored: [number, Buffer][] = [];
      for (let i = 0; i < window.length; i++) {
        const buf = window[i];
        if (buf) {
          await data.write(i * ss, buf);
          stored.push([i, buf]);
        }
        map.set(i, 1, buf ? '+' : '-');
      }
      for (const [s, buf] of samples) {
        if (buf) {
          await data.write(s * ss, buf);
          stored.push([s, buf]);
          probeSectors.push(s);
        }
        map.set(s, 1, buf ? '+' : '-');
      }
      await data.sync();
      store.initialize({ size: src.size, sectorSize: ss, fingerprint, probeSectors, stableIdentity: opts.stableIdentity }, map);
      writeIdentityHint(cacheDir, { size: src.size, sectorSize: ss, fingerprint, probeSectors });
      const dev = new CachedDevice(cacheDir, src, store, data, map, new RunLengthMap<number>(sectorCount, 0), opts, tally);
      store.transaction(() => {
        for (const [s, buf] of stored) dev.fixity.record(s, 1, buf);
      });
      dev.identityProbe = { method: 'created', sectors: 0, bytes: 0 };
      return dev;
    } catch (e) {
      await data?.close();
      store.close();
      throw e;
    }
  }

  // ------------------------------------------------------------------------------------------------- reading

  /**
   * Reads [offset, offset+length) clamped to the medium. Cached sectors come from the cache; missing ones from the
   * device, once. Stops at the first unreadable sector: `data` is the good prefix and `errorAt` the bad byte.
   * Rejects with SourceLostError (nothing marked) or CacheFullError (nothing new marked).
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
  async readInto(offset: number, target: Buffer, priority: Priority = 'foreground'): Promise<IntoRead> {
    this.checkRange(offset, target.length);
    const end = Math.min(this.size, offset + target.length);
    const ss = this.sectorSize;
    const endSector = Math.ceil(end / ss);
    if (this.readahead && priority === 'foreground' && offset < end) {
      const stream = this.readahead.streams.note(offset, end);
      // After this call's own first device read is queued (it runs synchronously up to there): it goes first.
      if (stream) queueMicrotask(() => this.pumpReadaheadSafely(stream));
    }
    let at = offset;
    let attemptedUpTo = 0; // sectors below this were tried by this call: a '-' among them is final for this call
    while (at < end) {
      const s = Math.floor(at / ss);
      const run = this.map.runAt(s);
      const runEnd = run.start + run.count;
      if (run.status === '+') {
        const upTo = Math.min(end, runEnd * ss);
        try {
          await this.fixity.checkBeforeServe(s, Math.ceil(upTo / ss));
        } catch (e) {
          if (!(e instanceof CacheDamagedError) || !this.repairOpts.canRepair?.()) throw e;
          this.untryDamaged(e);
          continue; // the loop finds the sectors untried and reads them from the medium
        }
        await this.readCachedInto(target, at - offset, at, upTo - at);
        at = upTo;
        continue;
      }
      const flight = this.inflight.covering(s);
      if (flight) {
        if (flight.data) {
          at += this.copyFrom(flight.data, flight.start * ss, at, Math.min(end, flight.end * ss), target, offset);
        } else {
          this.prefetchTickets.get(flight)?.promote(); // a reader waits for it now
          await flight.ready;
        }
        continue;
      }
      if (run.status === '-' && (s < attemptedUpTo || this.tries.valueAt(s) >= this.retries)) {
        return { bytes: at - offset, errorAt: Math.max(offset, s * ss) };
      }
      const e = run.status === '-' ? s + 1 : Math.min(runEnd, endSector, this.inflight.nextStartAfter(s), s + this.maxReadSectors);
      const got = await this.fetchForReader(s, e, run.status, run.status === '?' ? 'narrow' : 'forward', priority);
      attemptedUpTo = Math.max(attemptedUpTo, e);
      // Bytes in hand (committed or not): serve them; otherwise the state is committed and the loop looks again.
      if (got) at += this.copyFrom(got, s * ss, at, Math.min(end, e * ss), target, offset);
    }
    return { bytes: at - offset };
  }

  private checkRange(offset: number, length: number): void {
    this.checkOpen();
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new RangeError(`bad read range ${offset}+${length}`);
    }
  }

  /** Copies medium bytes [from, to) out of `src` (which holds the medium from byte srcAt) into target; returns to - from. */
  private copyFrom(src: Buffer, srcAt: number, from: number, to: number, target: Buffer, targetAt: number): number {
    src.copy(target, from - targetAt, from - srcAt, to - srcAt);
    return to - from;
  }

  /**
   * A damaged chunk's sectors become untried ('?') in one transaction with the loss of its checksum, and leave the
   * memory cache: they are read from the medium again (the one exception to "read once": the stored copy is lost).
   */
  private untryDamaged(e: CacheDamagedError): void {
    const ss = this.sectorSize;
    const a = Math.floor(e.offset / ss);
    const b = Math.ceil((e.offset + e.length) / ss);
    const undo = [...this.map.runs(a, b - a)];
    this.map.set(a, b - a, '?');
    try {
      this.store.transaction(() => {
        this.store.persistRuns(this.map, [[a, b]], this.tries, []);
        this.fixity.forget(a, b);
      });
    } catch (err) {
      for (const r of undo) this.map.set(r.start, r.count, r.status);
      throw err;
    }
    if (this.memory) {
      const bs = this.blockSectors * ss;
      for (let blk = Math.floor(e.offset / bs); blk * bs < e.offset + e.length; blk++) this.memory.delete(blk);
    }
    this.fixity.noteRepair();
    this.repairOpts.onRepair?.(`repair: ${e.message.replace(/; not served.*$/, '')}: reading those bytes from the medium again`);
  }

  /** Bytes [position, position+length) of '+' sectors into target[at...] (never a device read). */
  private async readCachedInto(target: Buffer, at: number, position: number, length: number): Promise<void> {
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
            await this.data.readInto(block, 0, block.length, bStart);
            mem.set(b, block);
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

  /** One device read of sectors [s, e), through the priority scheduler, with accounting. */
  private deviceRead(s: number, e: number, priority: Priority): Promise<Buffer> {
    return this.scheduler.run(priority, () => this.sourceRead(s, e));
  }

  /** The read of sectors [s, e) from the source itself, with accounting (call through the scheduler). */
  private async sourceRead(s: number, e: number): Promise<Buffer> {
    const off = s * this.sectorSize;
    const len = Math.min(this.size, e * this.sectorSize) - off;
    this.lastDevicePos = off;
    try {
      const buf = await this.source.read(off, len);
      if (buf.length !== len) throw new Error(`device returned ${buf.length} bytes for a ${len}-byte read at ${off}`);
      this.tally.reads++;
      this.tally.bytes += len;
      this.rate.add(len);
      return buf;
    } catch (err) {
      if (err instanceof MediaError) this.tally.failedReads++;
      throw err;
    }
  }

  /**
   * Reads sectors [start, end) (all in status `from`, none in flight) from the device in the given mode, then
   * persists what it learnt: data first, durable, then the state. Returns the outcomes once committed. On
   * SourceLostError the sectors read before the loss are still kept; nothing is marked for the rest.
   * Sectors a reader took in flight since the caller looked (a few microtasks earlier) are left to that reader:
   * the span ends before them, or nothing is read at all (no outcomes).
   */
  async fetch(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Outcome[]> {
    if (this.inflight.covering(start)) return [];
    end = Math.min(end, this.inflight.nextStartAfter(start));
    const flight = this.inflight.add(start, end); // synchronously: concurrent callers see the flight at once
    const { outcomes, failure } = await this.readOutcomes(start, end, from, mode, priority);
    try {
      if (outcomes.length > 0) await this.persist(outcomes);
    } finally {
      flight.release();
    }
    if (failure !== undefined) throw failure;
    return outcomes;
  }

  /** Reads [start, end) in the given mode; what was learnt before a failure is kept beside the failure. */
  private async readOutcomes(
    start: number,
    end: number,
    from: SectorStatus,
    mode: FetchMode,
    priority: Priority,
  ): Promise<{ outcomes: Outcome[]; failure: unknown }> {
    const outcomes: Outcome[] = [];
    try {
      await this.readDevice(start, end, from, mode, priority, outcomes);
      return { outcomes, failure: undefined };
    } catch (e) {
      return { outcomes, failure: e };
    }
  }

  /**
   * fetch() for a reader: when all of [start, end) was read and written to the data file, returns its bytes
   * without waiting for the commit (the flight lasts until then, so the sectors are read from the device once).
   * Otherwise (a bad sector, a lost source, too much not yet committed, a commit that failed before) waits for
   * the commit like fetch() and returns undefined: the caller then looks at the committed state.
   */
  private async fetchForReader(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Buffer | undefined> {
    const flight = this.inflight.add(start, end);
    const { outcomes, failure } = await this.readOutcomes(start, end, from, mode, priority);
    const only = outcomes.length === 1 ? outcomes[0] : undefined;
    const whole = failure === undefined && only?.status === '+' && only.start === start && only.count === end - start ? only.data : undefined;
    // Only untried sectors are answered early: a retried '-' sector is rare and its reader sees its new state.
    if (!whole || from !== '?' || this.persistFailed || this.uncommittedBytes + whole.length > MAX_UNCOMMITTED) {
      try {
        if (outcomes.length > 0) await this.persist(outcomes);
      } finally {
        flight.release();
      }
      if (failure !== undefined) throw failure;
      return whole;
    }
    await this.writeAndPublish(flight, start, whole, outcomes);
    return whole;
  }

  /**
   * The early answer for untried sectors [start, ...) read whole (`outcomes` is their one '+'): writes the bytes to
   * the data file, publishes them to readers waiting on `flight`, and leaves their '+' to the next group commit
   * (fdatasync first); the flight ends after that commit. Resolves once written; rejects (flight ended) if the
   * write fails.
   */
  private async writeAndPublish(flight: FlightHandle, start: number, whole: Buffer, outcomes: Outcome[]): Promise<void> {
    try {
      await this.data.write(start * this.sectorSize, whole);
    } catch (e) {
      this.persistFailed = true;
      flight.release();
      throw e;
    }
    flight.publish(whole);
    this.uncommittedBytes += whole.length;
    this.commitOutcomes(outcomes, whole.length).then(
      () => {
        this.uncommittedBytes -= whole.length;
        flight.release();
      },
      (e: unknown) => {
        // Nothing was recorded for these sectors (their reader already has the right bytes). Until a commit
        // succeeds, readers wait for their own commits and so see such errors; if none does, flush() reports it.
        this.uncommittedBytes -= whole.length;
        this.deferredCommitError ??= e;
        flight.release();
      },
    );
  }

  // ------------------------------------------------------------------------------------------------- readahead

  /**
   * Keeps a sequential reader's window being fetched: spans of untried sectors that no read holds, from the stream's
   * frontier up to (reader's end + window), a chunk each. The window stops at the first sector that is not '?' or is
   * in flight (cached, bad, or another reader's): the reader's next requests look again from their own end. Memory
   * stays bounded: bytes being prefetched count with the readers' uncommitted early answers against one bound.
   */
  private pumpReadahead(stream: ReadStream): void {
    const ra = this.readahead;
    if (!ra || this.closing || this.closed || this.persistFailed) return;
    const readerEnd = Math.ceil(stream.endByte / this.sectorSize);
    if (readerEnd < stream.pausedUntil) return;
    const windowEnd = Math.min(this.sectorCount, readerEnd + ra.windowSectors);
    let from = Math.max(stream.frontier, readerEnd);
    for (;;) {
      const span = planSpan(from, windowEnd, ra.chunkSectors, (s) => this.prefetchLimit(s));
      if (!span) return;
      const bytes = Math.min(this.size, span[1] * this.sectorSize) - span[0] * this.sectorSize;
      if (this.prefetchPending + this.uncommittedBytes + bytes > MAX_UNCOMMITTED) return;
      stream.frontier = from = span[1];
      this.prefetch(stream, span[0], span[1], bytes).catch((e: unknown) => process.emitWarning(`readahead failed: ${(e as Error).message}`));
    }
  }

  /** pumpReadahead() off any reader's path: a bug in it must not take the mount down (readers go on without it). */
  private pumpReadaheadSafely(stream: ReadStream): void {
    try {
      this.pumpReadahead(stream);
    } catch (e) {
      process.emitWarning(`readahead stopped: ${(e as Error).message}`);
    }
  }

  /** First sector >= s that readahead must not read: s itself unless s is untried and not in flight. */
  private prefetchLimit(s: number): number {
    const run = this.map.runAt(s);
    if (run.status !== '?' || this.inflight.covering(s)) return s;
    return Math.min(run.start + run.count, this.inflight.nextStartAfter(s));
  }

  /**
   * One prefetch: untried sectors [start, end) read whole at background priority (a reader waiting for them
   * promotes the read; single flight makes any reader share it). Success takes the readers' early-answer path:
   * data file, bytes published to waiting readers, '+' only with the next group commit after fdatasync.
   * A failure marks NOTHING, as a failed read of acquire's copy pass marks no '-': the sectors stay '?' and the
   * stream prefetches nothing more until its reader has passed them, so the real reader narrows the failure itself
   * (exact '-' sectors, its own short read then EIO). So readahead never decides which sectors are '-', and costs
   * a bad area at most this one failed device read. A lost source marks nothing either.
   */
  private async prefetch(stream: ReadStream, start: number, end: number, bytes: number): Promise<void> {
    const handle = this.inflight.add(start, end);
    const ticket: Promotable = { promote: () => {} };
    this.prefetchTickets.set(handle.flight, ticket);
    this.prefetchPending += bytes;
    let data: Buffer | undefined;
    try {
      // Dropped unread when the cache began closing while the read waited for a device slot.
      data = await this.scheduler.run('background', async () => (this.closing ? undefined : this.sourceRead(start, end)), ticket);
      if (data) {
        this.prefetchTally.reads++;
        this.prefetchTally.bytes += bytes;
      }
    } catch (e) {
      if (e instanceof MediaError) this.prefetchTally.failedReads++;
      else if (!(e instanceof SourceLostError)) process.emitWarning(`readahead of sectors [${start}, ${end}) failed: ${(e as Error).message}`);
      stream.pausedUntil = Math.max(stream.pausedUntil, end);
    } finally {
      this.prefetchPending -= bytes;
    }
    if (!data) {
      handle.release();
      return;
    }
    const outcomes: Outcome[] = [{ start, count: end - start, status: '+', data }];
    try {
      if (this.persistFailed || this.uncommittedBytes + bytes > MAX_UNCOMMITTED) {
        // As fetchForReader past the memory bound: hold the flight (readers wait) until committed.
        try {
          await this.persist(outcomes);
        } finally {
          handle.release();
        }
      } else {
        await this.writeAndPublish(handle, start, data, outcomes);
      }
    } catch (e) {
      // Nobody waits for this read: flush()/close() report the failure; readers meet it in their own reads.
      this.deferredCommitError ??= e;
    }
  }

  /** The device reads of fetch(): pushes what they found to `outcomes`; rethrows anything but a MediaError. */
  private async readDevice(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority, outcomes: Outcome[]): Promise<void> {
    const retried = from === '-';
    const single = async (s: number): Promise<boolean> => {
      try {
        outcomes.push({ start: s, count: 1, status: '+', data: await this.deviceRead(s, s + 1, priority) });
        return true;
      } catch (e) {
        if (!(e instanceof MediaError)) throw e;
        outcomes.push({ start: s, count: 1, status: '-', from, retried });
        return false;
      }
    };
    if (mode === 'narrow' || mode === 'copy') {
      try {
        outcomes.push({ start, count: end - start, status: '+', data: await this.deviceRead(start, end, priority) });
      } catch (e) {
        if (!(e instanceof MediaError)) throw e;
        if (end - start === 1) outcomes.push({ start, count: 1, status: '-', from, retried });
        else if (mode === 'copy') outcomes.push({ start, count: end - start, status: '*', from });
        else await this.narrow(start, end, e, from, priority, outcomes, single);
      }
    } else if (mode === 'forward') {
      for (let s = start; s < end; s++) if (!(await single(s))) break;
    } else if (mode === 'backward') {
      for (let s = end - 1; s >= start; s--) if (!(await single(s))) break;
    } else {
      for (let s = start; s < end; s++) await single(s);
    }
  }

  /**
   * A multi-sector read of untried sectors failed: find its first bad sector (the reader needs nothing past it).
   * An NBD error offset, when given, lets the good prefix be read in one go. Sectors after the first bad one were
   * only part of a failed read: they become '*' (ddrescue: failed, non-trimmed), not '-'.
   */
  private async narrow(
    start: number,
    end: number,
    err: MediaError,
    from: SectorStatus,
    priority: Priority,
    outcomes: Outcome[],
    single: (s: number) => Promise<boolean>,
  ): Promise<void> {
    let s = start;
    const hint = Math.floor(err.offset / this.sectorSize);
    if (hint > start && hint < end) {
      try {
        outcomes.push({ start, count: hint - start, status: '+', data: await this.deviceRead(start, hint, priority) });
        s = hint;
      } catch (e) {
        if (!(e instanceof MediaError)) throw e;
      }
    }
    for (; s < end; s++) {
      if (!(await single(s))) {
        if (s + 1 < end) outcomes.push({ start: s + 1, count: end - s - 1, status: '*', from });
        return;
      }
    }
  }

  /** Writes the '+' data, then hands the outcomes to the group commit; resolves once they are committed. */
  private async persist(outcomes: Outcome[]): Promise<void> {
    try {
      for (const o of coalesce(outcomes)) if (o.data) await this.data.write(o.start * this.sectorSize, o.data);
    } catch (e) {
      this.persistFailed = true;
      throw e;
    }
    try {
      await this.commitOutcomes(outcomes);
    } catch (e) {
      this.deferredCommitError = undefined; // a caller sees a commit failure now
      throw e;
    }
  }

  /** The group commit of `outcomes`, keeping track of whether persisting fails. */
  private commitOutcomes(outcomes: Outcome[], lazyWeight = 0): Promise<void> {
    return this.committer.submit(outcomes, lazyWeight).then(
      () => {
        this.persistFailed = false;
      },
      (e: unknown) => {
        this.persistFailed = true;
        throw e;
      },
    );
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
    for (const o of outcomes) {
      for (const r of this.map.runs(o.start, o.count)) {
        if (o.status === '+' ? r.status === '+' : r.status !== (o.from ?? r.status) || r.status === '+') continue;
        undo.push(r);
        this.map.set(r.start, r.count, o.status);
        dirty.push([r.start, r.start + r.count]);
        if (o.status === '+') cached.push([r.start, r.start + r.count]);
        if (o.status === '+' && o.data) {
          const at = (r.start - o.start) * this.sectorSize;
          chunks.push([r.start, r.count, o.data.subarray(at, Math.min(o.data.length, at + r.count * this.sectorSize))]);
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
      this.store.transaction(() => {
        this.store.persistRuns(this.map, dirty, this.tries, dirtyTries);
        for (const [start, count, bytes] of chunks) this.fixity.record(start, count, bytes);
        if (this.progressDirty && this.progress) this.store.setSetting('acquire.progress', JSON.stringify(this.progress));
      });
      this.progressDirty = false;
    } catch (e) {
      for (let i = undo.length - 1; i >= 0; i--) this.map.set(undo[i].start, undo[i].count, undo[i].status);
      for (let i = undoTries.length - 1; i >= 0; i--) this.tries.set(undoTries[i].start, undoTries[i].count, undoTries[i].status);
      throw e;
    }
    for (const [a, b] of cached) this.notifyCached(a, b);
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

  /** Records state decided without a device read (e.g. a trimmed block's middle becoming '/'). */
  async mark(start: number, count: number, status: SectorStatus, from: SectorStatus): Promise<void> {
    await this.commitOutcomes([{ start, count, status, from }]);
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
      await this.persist([{ start, count, status: '+', data }]);
    } finally {
      flight.release();
    }
  }

  // ------------------------------------------------------------------------------------------------- state views

  /** Immutable snapshot of the sector state. */
  extents(): readonly Extent[] {
    return this.map.extents();
  }

  /** Status of one sector (for tools that walk the map). */
  statusAt(sector: number): SectorStatus {
    return this.map.statusAt(sector);
  }

  /** The maximal run of equal status containing `sector`. */
  runAt(sector: number): Extent {
    return this.map.runAt(sector);
  }

  /** First sector >= from in `status`, or undefined. */
  nextWithStatus(from: number, status: SectorStatus): number | undefined {
    return this.map.findNext(from, (s) => s === status);
  }

  /** Retry count of a sector. */
  triesAt(sector: number): number {
    return this.tries.valueAt(sector);
  }

  /** Waits for any device read covering `sector`; true if there was one. */
  async waitForFlight(sector: number): Promise<boolean> {
    const f = this.inflight.covering(sector);
    if (!f) return false;
    await f.done;
    return true;
  }

  nextFlightAfter(sector: number): number {
    return this.inflight.nextStartAfter(sector);
  }

  /** Bytes per status, the last partial sector counted for what it holds. */
  private bytesByStatus(): Record<SectorStatus, number> {
    const t = this.map.totals();
    const out = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 } as Record<SectorStatus, number>;
    for (const k of Object.keys(t) as SectorStatus[]) out[k] = t[k] * this.sectorSize;
    const slack = this.sectorCount * this.sectorSize - this.size;
    if (slack > 0) out[this.map.statusAt(this.sectorCount - 1)] -= slack;
    return out;
  }

  /** Status-line fields: acquire's while it runs; otherwise derived from what is left to do. */
  private statusLine(): { phase: MapfilePhase; pass: number; currentPos: number } {
    if (this.acquiring && this.progress) return this.progress;
    const t = this.map.totals();
    const saved = this.progress;
    const pos = saved?.currentPos ?? this.lastDevicePos;
    if (t['?'] > 0) return { phase: '?', pass: saved?.phase === '?' ? saved.pass : 1, currentPos: pos };
    if (t['*'] > 0) return { phase: '*', pass: 1, currentPos: pos };
    if (t['/'] > 0) return { phase: '/', pass: 1, currentPos: pos };
    return { phase: '+', pass: saved?.pass ?? 1, currentPos: pos };
  }

  status(): CacheStatus {
    const b = this.bytesByStatus();
    const line = this.statusLine();
    return {
      size: this.size,
      sectorSize: this.sectorSize,
      cacheDir: this.cacheDir,
      bytesCached: b['+'],
      bytesBad: b['-'],
      bytesUntried: b['?'],
      bytesNonTrimmed: b['*'],
      bytesNonScraped: b['/'],
      deviceReads: this.tally.reads + this.tally.failedReads,
      deviceBytes: this.tally.bytes,
      deviceFailedReads: this.tally.failedReads,
      prefetchReads: this.prefetchTally.reads,
      prefetchBytes: this.prefetchTally.bytes,
      prefetchFailedReads: this.prefetchTally.failedReads,
      readRateBytesPerSec: Math.round(this.rate.bytesPerSecond()),
      phase: line.phase,
      pass: line.pass,
      currentPos: line.currentPos,
      identityProbe: { ...this.identityProbe },
      retries: this.retries,
      fixity: this.fixity.status(),
    };
  }

  /** The state as a GNU ddrescue mapfile, from one snapshot. */
  mapfileText(): string {
    const line = this.statusLine();
    const extents = this.map.extents();
    return renderMapfile(extents, this.sectorSize, this.size, { ...line, comments: [`Medium: ${this.size} bytes, sector size ${this.sectorSize}`] });
  }

  /** Called after sectors become '+' (committed), with their byte range. Returns an unsubscribe function. */
  onSectorsCached(listener: (offset: number, length: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sectors compared with the medium to identify it again (the first 64 KiB's probes and the spread samples). */
  identitySamples(): number[] {
    return this.store.identity()?.probeSectors ?? [];
  }

  /** Checks every stored byte against its checksum (blkfs verify on a mounted cache). */
  verifyFixity(onProgress?: (done: number, total: number) => void) {
    return this.fixity.verifyAll(this.map.extents(), onProgress);
  }

  /** Key/value settings kept with the cache (e.g. SBX UID and times for /sbx/). */
  getSetting(key: string): string | undefined {
    return this.store.getSetting(key);
  }

  setSetting(key: string, value: string): void {
    this.store.setSetting(key, value);
  }

  /** The cache's SQLite handle for layers that add their own tables (prefix them; see StateStore.database). */
  database(): Database.Database {
    return this.store.database();
  }

  /** Sets the status-line fields (acquire); persisted with the next commit. */
  setProgress(phase: MapfilePhase, pass: number, currentPos: number): void {
    this.progress = { phase, pass, currentPos };
    this.progressDirty = true;
  }

  /** Saved status-line fields of an interrupted acquire, if any. */
  savedProgress(): { phase: MapfilePhase; pass: number; currentPos: number } | undefined {
    return this.progress ? { ...this.progress } : undefined;
  }

  /** ddrescue's strategy over the whole medium at background priority (see acquire.ts). */
  async acquire(opts: AcquireOptions = {}): Promise<AcquireResult> {
    this.checkOpen();
    if (this.acquiring) throw new Error('an acquisition is already running on this cache');
    this.acquiring = true;
    try {
      return await runAcquire(this, opts);
    } finally {
      this.acquiring = false;
      this.progressDirty = true;
      await this.committer.submit([]).catch(() => undefined); // persist the final status line
    }
  }

  /**
   * Resolves once the sectors readers were answered with so far are committed (or their commit failed: flush()
   * reports that), without waiting for device reads still under way. /raw calls it when a program closes the
   * file, so what the program read is in the mapfile it opens next.
   */
  commitPending(): Promise<void> {
    return this.committer.settle();
  }

  /**
   * Resolves when every device read started so far is committed (readers may have been answered before their
   * commit). Rejects with a commit error that no reader saw, once.
   */
  async flush(): Promise<void> {
    const hurried = this.committer.hurry();
    try {
      await this.inflight.settled();
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
    this.store.close();
    await this.data.close();
    if (failure !== undefined) throw failure;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('cache is closed');
  }

  /** Sectors that are readable from the cache alone: a '+' byte range reader for export. */
  async readCachedBytes(offset: number, length: number): Promise<Buffer> {
    const ss = this.sectorSize;
    const s0 = Math.floor(offset / ss);
    const s1 = Math.ceil((offset + length) / ss);
    for (const r of this.map.runs(s0, s1 - s0)) if (r.status !== '+') throw new Error(`sector ${r.start} is not cached`);
    await this.fixity.checkBeforeServe(s0, s1);
    const buf = Buffer.allocUnsafe(length);
    await this.readCachedInto(buf, 0, offset, length);
    return buf;
  }
}

/** The readahead window option, validated (a bad value is a RangeError before anything is opened). */
function checkReadahead(bytes: number | undefined): number {
  const ra = bytes ?? 0;
  if (!Number.isSafeInteger(ra) || ra < 0 || ra > MAX_READAHEAD_BYTES) {
    throw new RangeError(`readahead must be 0..${MAX_READAHEAD_BYTES} bytes, not ${ra}`);
  }
  return ra;
}

/** Joins adjacent '+' outcomes so the data file gets few large writes. */
function coalesce(outcomes: readonly Outcome[]): Outcome[] {
  const out: Outcome[] = [];
  for (const o of outcomes) {
    const last = out[out.length - 1];
    if (last && last.data && o.data && last.start + last.count === o.start) {
      out[out.length - 1] = { start: last.start, count: last.count + o.count, status: '+', data: Buffer.concat([last.data, o.data]) };
    } else {
      out.push(o);
    }
  }
  return out;
}

/** One cached sector of a cache directory not opened yet (for probing candidates by their hint). */
async function readCachedSector(dir: string, src: BlockSource, s: number): Promise<Buffer> {
  const fh = await fs.promises.open(path.join(dir, DATA_FILE), 'r');
  try {
    const len = Math.min(src.sectorSize, src.size - s * src.sectorSize);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, s * src.sectorSize);
    return buf;
  } finally {
    await fh.close();
  }
}
