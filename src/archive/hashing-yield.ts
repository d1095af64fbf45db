// When the image checksums wait: while a fast medium is being read on a machine with no core to spare.
// The four hashes (CRC-32, MD5, SHA-1, SHA-256) run at ~350 MB/s together on one core, and on a machine of few
// cores the reading of a fast medium (a hard disk, an SSD, a page-cached image or NBD export) leaves none idle:
// hashing beside it takes CPU from the device reads, the cache's writes and the FUSE replies. On 2 cores busy with
// other work, hashing along made a cold `ddrescue -d` of /raw 25-30% slower, at nice 10 and at SCHED_IDLE alike; on
// a quiet machine it cost the same within noise, and the server ~40% more CPU. So while such a medium
// is read, the hashing waits; it catches up from the cache (never reading the device) once the reading pauses or
// slows. The device's time comes first: a failing disk is read while it still reads, and checksums can come
// after. A slow medium (a CD or DVD, a disk struggling through bad areas) leaves a core idle, so it is hashed
// along and its checksums are ready with its last sector.
// The line is drawn well below the hashing's own rate: hashing along slows a reading by up to a third, so a medium
// found fast stays fast while hashed, and the choice does not flip back and forth.

import { availableParallelism } from 'os';

/** A medium read faster than this (over the last second) is not hashed along on a machine of few cores. */
export const HASH_ALONG_BELOW_BYTES_PER_SEC = 100e6;
/** From this many cores on, the hashing always has a core of its own. */
export const CORES_TO_HASH_ALONG = 4;

/** Whether the hashing should wait now, given the device's read rate over the last second. */
export function hashingYield(deviceBytesPerSecond: () => number, cores = availableParallelism()): () => boolean {
  if (cores >= CORES_TO_HASH_ALONG) return () => false;
  return () => deviceBytesPerSecond() > HASH_ALONG_BELOW_BYTES_PER_SEC;
}
