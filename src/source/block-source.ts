// The narrow interface every layer above the device speaks: a read-only byte range of fixed size.
// Layers compose like nbdkit filters: device (nbdkit) → NBD client → cache → views.
import { OperationError } from '../errors';

export interface SourceStats {
  /** Successful read requests and the bytes they returned. */
  reads: number;
  bytes: number;
  /** Read requests that failed with a media error. */
  failedReads: number;
  /** Read requests that failed because the source was lost (not a verdict on any sector). */
  lostReads?: number;
  /** Read requests the server failed for a passing reason (TransientReadError: not a verdict on any sector). */
  transientReads?: number;
  /** Times the source was reconnected (nbdkit restarted or NBD connection re-established). */
  reconnects?: number;
}

/** What identifies the source outside its bytes; the cache may fold it into the medium identity. */
export type SourceIdentityHint =
  | { kind: 'file'; path: string; dev: number; ino: number; mtimeMs: number }
  | { kind: 'device'; path: string; realPath: string; rdev: number }
  | { kind: 'nbd'; uri: string };

/** Sector sizes an earlier blkfs made this medium's caches in: openCache keeps an existing cache's size. */
export interface SectorSizeChoice {
  /** Sizes besides the one detected now. */
  readonly earlier: readonly number[];
  /** Reads in `size` (the one detected now or one of `earlier`) from now on; only before a cache is opened on it. */
  use(size: number): void;
}

export type SourceEvent = { type: 'lost'; message: string } | { type: 'reconnected'; message: string };

export interface BlockSource {
  /** Size of the medium in bytes. */
  readonly size: number;
  /** Logical sector size in bytes (512, 2048, 4096...). */
  readonly sectorSize: number;
  /** Other sector sizes an existing cache of this medium may be in (none when --block-size was given). */
  readonly sectorSizeChoice?: SectorSizeChoice;
  /**
   * Reads exactly `length` bytes at `offset`. Rejects with MediaError when the medium reports an
   * error for (part of) the range, SourceLostError when the source itself is gone, or TransientReadError when
   * the server failed the read for a reason that says nothing about the medium.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Like read(), into `target` (bytes [offset, offset+target.length)); resolves with target. Nothing writes into
   * target once the returned promise has settled, whichever way: the caller may then reuse it (the copying pass
   * reuses its span buffers: fresh memory costs page faults and GC at every span).
   */
  readInto?(offset: number, target: Buffer): Promise<Buffer>;
  stats(): SourceStats;
  /**
   * Once a read has waited `olderThanMs` for its answer, gives up on all reads in flight: they fail with
   * SourceLostError (no verdict on their sectors) and the next read reconnects. Returns whether it did. For
   * unmounting past a source that stopped answering (a stalled NBD server).
   */
  hangUpStalled?(olderThanMs: number): boolean;
  close(): Promise<void>;
  readonly identityHint?: SourceIdentityHint;
  /** Lost / reconnected notifications; returns an unsubscribe function. */
  onEvent?(listener: (event: SourceEvent) => void): () => void;
}

/** source.readInto(), or read() copied into target for a source without it. */
export async function readInto(source: BlockSource, offset: number, target: Buffer): Promise<Buffer> {
  if (source.readInto) return source.readInto(offset, target);
  (await source.read(offset, target.length)).copy(target);
  return target;
}

/** The medium answered, with an error: a bad sector (or more) inside the requested range. */
export class MediaError extends OperationError {
  constructor(
    readonly offset: number,
    readonly length: number,
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? `read error (errno ${errno}) in ${length} bytes at ${offset}`);
    this.name = 'MediaError';
  }
}

/** The source is unreachable (nbdkit died, connection dropped): not a verdict on any sector. */
export class SourceLostError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'SourceLostError';
  }
}

/**
 * The server failed the read for a reason that is no verdict on the medium (NBD ENOMEM, EPERM, ENOSPC, EOVERFLOW,
 * ENOTSUP): nothing is recorded for the range, which stays untried and is read again when next asked.
 */
export class TransientReadError extends OperationError {
  constructor(
    readonly offset: number,
    readonly length: number,
    /** The server's errno name (ENOMEM...). */
    readonly errnoName: string,
    message: string,
  ) {
    super(message);
    this.name = 'TransientReadError';
  }
}
