// The one interface between the sector cache and everything above it (views, server, CLI). CachedDevice implements
// it; unit tests use the same CachedDevice over an in-memory source (test/helpers/memory-cache.ts), so a view is
// tested through the production read, commit and notification paths.
//
// Kept narrow on purpose: a member belongs here when a view or the server needs it, and every member has one
// meaning (no optional members, no fallbacks). Later additions belong in groups like the ones below, e.g. medium
// change and fixity events beside onSectorsCached, a read path hint beside `Priority`, a writable mapfile beside
// mapfileText(), per-layer tables through database().
import type Database from 'better-sqlite3';
import type { Extent } from './extent-map';
import type { FixityStatus } from './fixity';
import type { IdentityProbe } from './identity';
import type { MapfilePhase } from './mapfile';

/** Foreground reads (a user's program) go before background ones (acquisition, readahead, hashing, scanning). */
export type Priority = 'foreground' | 'background';

/** Device reads counted: those that succeeded and their bytes, and those failed with a media error. */
export interface ReadCounts {
  reads: number;
  bytes: number;
  failedReads: number;
}

/**
 * This session's device reads as they change: all of them, and of those the foreground ones (made for a reader
 * waiting, e.g. a program or The Sleuth Kit on /raw; not the passes', readahead's, hashing's or scanning's).
 */
export interface DeviceReadCounts {
  readonly all: Readonly<ReadCounts>;
  readonly foreground: Readonly<ReadCounts>;
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

/** The source's connection as the cache saw it (nbdkit restarts, lost NBD connections). */
export interface SourceHealth {
  state: 'connected' | 'lost';
  /** Times the source reported itself lost, and reconnected, since the cache was opened. */
  lostEvents: number;
  reconnects: number;
  /** The latest lost/reconnected message, if any. */
  lastEvent?: string;
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
  /** Every device read of this session (reads, identity probes, readahead), counted in one place. */
  deviceReads: number;
  deviceBytes: number;
  deviceFailedReads: number;
  /** Device reads the server failed for a passing reason (ENOMEM...): not in deviceReads, no verdict on any sector. */
  deviceTransientReads: number;
  /** Of the device reads above: readahead's (reads that succeeded, their bytes, and failed ones). */
  prefetchReads: number;
  prefetchBytes: number;
  prefetchFailedReads: number;
  /** Of the device reads above: the foreground ones (see DeviceReadCounts). */
  foregroundReads: number;
  foregroundBytes: number;
  foregroundFailedReads: number;
  readRateBytesPerSec: number;
  phase: MapfilePhase;
  pass: number;
  currentPos: number;
  /** What opening read from the medium only to check its identity. */
  identityProbe: IdentityProbe;
  retries: number;
  source: SourceHealth;
  /** Checksums of the stored chunks: checked on first serve and by blkfs verify (fixity.ts). */
  fixity?: FixityStatus;
  /** Present once storing bytes failed this session (a write, an fdatasync, a commit): the latest failure, and
   * whether storing still fails (no commit succeeded since, or an fdatasync failed: that one is for good). */
  storeFailure?: StoreFailure;
}

export interface StoreFailure {
  message: string;
  /** When it happened (ISO 8601). */
  at: string;
  ongoing: boolean;
}

export interface SectorCache {
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly cacheDir: string;
  /**
   * The mount serves another medium now: this one's files answer ENOMEDIUM (CacheClosedError), including what a
   * layer above would serve from memory.
   */
  readonly retired: boolean;

  // ---- bytes
  /**
   * Reads [offset, offset+length) clamped to the medium: cached sectors from the cache, missing ones from the device
   * (each once). Stops at the first unreadable sector: `data` is the good prefix and `errorAt` the bad byte.
   */
  read(offset: number, length: number, priority?: Priority): Promise<RangeRead>;
  /**
   * read() into target[0, n) (no intermediate buffer: the /raw path). Answers at once, without a promise, when every
   * byte was at hand (in memory or the page cache): a copy's hot path then costs no microtask per request.
   */
  readInto(offset: number, target: Buffer, priority?: Priority): IntoRead | Promise<IntoRead>;
  /** Bytes of '+' sectors only; throws rather than read the device. */
  readCachedBytes(offset: number, length: number): Promise<Buffer>;
  /** readCachedBytes() into target[0, length) (the checksum tracker and the block scanner reuse their buffers). */
  readCachedInto(offset: number, length: number, target: Buffer): Promise<void>;
  /** Resolves once what readers were answered with so far is recorded as read (never rejects). */
  commitPending(): Promise<void>;

  // ---- state
  /** Run-length sector states, one immutable snapshot (the same object until the state changes). */
  extents(): readonly Extent[];
  /** The maximal run of equal status containing `sector` (a binary search; cheap while the map changes). */
  runAt(sector: number): Extent;
  /** Called after sectors became durably '+', with their byte range. Returns an unsubscribe function. */
  onSectorsCached(listener: (offset: number, length: number) => void): () => void;
  /** Counters of the cache, the device and the source (plain JSON values). */
  status(): CacheStatus;
  /** Bytes per second the device is read at, or the mount's readers ask for, right now (background work waits while
   * high: background-yield.ts). */
  busyRateNow(): number;
  /** The whole GNU ddrescue mapfile of the current state, from one snapshot. */
  mapfileText(): string;

  // ---- storage for layers above
  /** The cache's SQLite handle: layers keep their own tables there (prefix them: sbx_*, ...). */
  database(): Database.Database;
}
