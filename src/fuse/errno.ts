// The one errno table: what a FUSE caller sees for each view answer or failure.
import * as os from 'os';
import { MediaError, SourceLostError, TransientReadError } from '../source/block-source';
import { MediumChangedError } from '../source/medium-watch';
import { CacheClosedError, CacheFullError } from '../cache/errors';
import { ErrnoName, ViewErrno } from '../views/view';

/** Linux errno numbers Node's os.constants lacks. */
const EXTRA_ERRNO: Partial<Record<ErrnoName, number>> = { ENOMEDIUM: 123 };

/** fuse-native wants negative errno numbers. */
export function fuseErrno(name: ErrnoName): number {
  return -((os.constants.errno as Record<string, number | undefined>)[name] ?? EXTRA_ERRNO[name] ?? os.constants.errno.EIO);
}

/** The errno a reader gets when a view fails instead of answering. */
export function errnoNameOf(err: unknown): ErrnoName {
  if (err instanceof ViewErrno) return err.errno;
  // A bad sector is EIO, as from a disk.
  if (err instanceof MediaError) return 'EIO';
  // The medium in the drive changed or went away: what a drive without its disc answers.
  if (err instanceof MediumChangedError) return 'ENOMEDIUM';
  // A file opened on a medium the mount no longer serves (it followed the drive to another disc): that medium is
  // not there for it, as a drive answers a program that opened it before the disc was changed. Never EIO: that
  // says "bad sector", and ddrescue would record sectors bad that were never read.
  if (err instanceof CacheClosedError) return 'ENOMEDIUM';
  // The source is gone (nbdkit died, medium removed): not a verdict on any sector. ENXIO is what a vanished
  // block device answers, and tells the user it is not the data that is bad.
  if (err instanceof SourceLostError) return 'ENXIO';
  // The server failed the read for a passing reason: out of memory is said as such (the sector stays untried); the
  // rest is EIO (not EAGAIN: a reader that retries that at once would hammer the server).
  if (err instanceof TransientReadError) return err.errnoName === 'ENOMEM' ? 'ENOMEM' : 'EIO';
  // The cache's disk is full: the bytes could not be kept, so the medium was not read. Not EIO, for the same reason.
  if (err instanceof CacheFullError) return 'ENOSPC';
  // Anything else (a failed sync of the cache, SQLite error): the read failed; the reader must not get invented bytes.
  return 'EIO';
}
