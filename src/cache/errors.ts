// Errors the cache raises, one place. They stay free of CLI classes (src/cli is "upwards"): the CLI maps
// CacheMismatchError/CacheBusyError/MapfileError/ImportError to exit 1 and CacheFullError to exit 2.
import { OperationError, UserError } from '../errors';

/** The cache directory belongs to another medium (size, sector size or content differ). */
export class CacheMismatchError extends UserError {
  constructor(
    readonly cacheDir: string,
    readonly reason: string,
  ) {
    super(`cache ${cacheDir} belongs to a different medium: ${reason}`);
    this.name = 'CacheMismatchError';
  }
}

/** Another process holds the cache (its SQLite database is locked). */
export class CacheBusyError extends UserError {
  constructor(readonly cacheDir: string) {
    super(`cache ${cacheDir} is in use by another blkfs process`);
    this.name = 'CacheBusyError';
  }
}

/** The cache's disk is full: nothing of the failed batch was marked read; what was cached before is intact. */
export class CacheFullError extends OperationError {
  readonly code = 'ENOSPC';
  constructor(
    readonly path: string,
    cause?: unknown,
    detail?: string,
  ) {
    super(`cache disk full while writing ${path}${detail ? ` (${detail})` : ''}: nothing new was recorded as read; free space and retry`);
    this.name = 'CacheFullError';
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

/**
 * An fdatasync of the data file failed. Linux reports a writeback error once and marks the pages that failed clean, so
 * a later fdatasync succeeds without having written them: no byte written before the failure can be proven durable,
 * none is recorded '+' after it, and no more sectors are read from the device into this cache (they could not be kept).
 */
export class DataFileSyncError extends OperationError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const why = (cause as { code?: string } | null)?.code ?? (cause as Error)?.message ?? String(cause);
    super(
      `fdatasync of the cache data file ${path} failed (${why}): the bytes read since the last commit may not be on disk, so they ` +
        'were not recorded as read, and nothing more is read into this cache now; check the disk, then mount again (what was ' +
        'recorded before is intact)',
      { cause },
    );
    this.name = 'DataFileSyncError';
  }
}

/**
 * An fdatasync of the state's journal (its SQLite WAL) failed. As for the data file (DataFileSyncError), the kernel may
 * have dropped what it could not write back and a later fdatasync would not say so: what was recorded since the last
 * durable commit may be lost, and SQLite would copy the journal's lost pages into the database. Nothing more is
 * recorded or read into this cache in this session.
 */
export class JournalSyncError extends OperationError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const why = (cause as { code?: string } | null)?.code ?? (cause as Error)?.message ?? String(cause);
    super(
      `fdatasync of the cache's state journal ${path} failed (${why}): what was recorded since the last commit may not be on disk, ` +
        'and nothing more is recorded or read into this cache now; check the disk, then mount again (sectors whose record was lost are read again)',
      { cause },
    );
    this.name = 'JournalSyncError';
  }
}

/** The cache's data file is missing or shorter than its '+' sectors: serving them would serve zeros as data. */
export class CacheDamagedError extends OperationError {
  constructor(
    readonly cacheDir: string,
    reason: string,
  ) {
    super(`cache ${cacheDir} is damaged: ${reason}; its rescued bytes cannot be served. Restore the file, or move the cache aside to rescue again`);
    this.name = 'CacheDamagedError';
  }
}

/**
 * A read reached a closed cache: the medium it belongs to is no longer served (the drive got another disc and the
 * mount followed it) while a program still reads a file it opened on that medium. It must open the file again.
 */
export class CacheClosedError extends OperationError {
  constructor(readonly cacheDir: string) {
    super(`the medium of cache ${cacheDir} is no longer served (the drive got another medium): open the file again`);
    this.name = 'CacheClosedError';
  }
}

/** Bad input to import (image too short, map beyond the medium, ...). */
export class ImportError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'ImportError';
  }
}

/**
 * The medium is larger than a file may be where the cache is (EFBIG: ext4 stops at 16 TiB, or a `ulimit -f`), found
 * when its data file is sized: before anything is stored, so the remedy is a --cache elsewhere.
 */
export class CacheFileTooLargeError extends UserError {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    super(`cannot make the cache data file ${path} ${size} bytes long (EFBIG: more than its filesystem or the file size limit allows); give --cache a directory on a filesystem that holds files this large (XFS, btrfs)`);
    this.name = 'CacheFileTooLargeError';
  }
}

/** True for "no space" failures from the file system (ENOSPC, EDQUOT) or SQLite (SQLITE_FULL). */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}
