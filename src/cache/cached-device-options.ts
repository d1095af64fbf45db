// The options a CachedDevice is opened with (cache-open.ts passes them through), and the readahead window's check.
import { MAX_READAHEAD_BYTES, MIN_READAHEAD_BYTES } from './readahead-limits';

export interface CachedDeviceOptions {
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
   * up to this many untried bytes past its request prefetched at background priority (see readahead.ts).
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
  /**
   * Hears, when it happens, a failure to store bytes nobody waits for (the commit of bytes already answered to
   * readers, a prefetch's write): their sectors stay untried. flush()/close() report it too (the unmount's exit 2).
   */
  onUnseenFailure?: (err: unknown) => void;
}

/** The readahead window option, validated (a bad value is a RangeError before anything is opened). */
export function checkReadahead(bytes: number | undefined): number {
  const ra = bytes ?? 0;
  if (!Number.isSafeInteger(ra) || ra < 0 || ra > MAX_READAHEAD_BYTES || (ra > 0 && ra < MIN_READAHEAD_BYTES)) {
    throw new RangeError(`readahead must be 0 or ${MIN_READAHEAD_BYTES}..${MAX_READAHEAD_BYTES} bytes, not ${ra}`);
  }
  return ra;
}

