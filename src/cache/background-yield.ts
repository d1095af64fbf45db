// When work that follows the cache in the background waits: while a fast medium is being read on a machine with no
// core to spare. Two kinds of work read back what enters the cache: the image checksums (src/archive: CRC-32, MD5,
// SHA-1, SHA-256, ~350 MB/s together on one core) and the SBX block scan of /rescued/ (src/views/rescued: a read of
// every cached byte from the page cache and a search for block headers). On a machine of few cores the reading of a
// fast medium (a hard disk, an SSD, a page-cached image or NBD export) leaves no core idle: this work beside it takes
// CPU from the device reads, the cache's writes and the FUSE replies.
// - Hashing along made a cold `ddrescue -d` of /raw 25-30% slower on 2 cores busy with other work, at nice 10 and at
//   SCHED_IDLE alike; on a quiet machine it cost the same within noise, and the server ~40% more CPU.
// - The scan costs ~0.12 s of CPU per 512 MiB (read back on a pool thread ~0.07 s, the search on the event loop
//   ~0.05 s). Scanning along made `blkfs acquire` of a page-cached 512 MiB image 0.05-0.15 s slower on a quiet
//   machine (of ~1.1 s; against a build with no scan at all); waiting made it faster in two runs of 10 alternating
//   rounds on 2 cores busy with other work (medians 1.52 → 1.43 s and 2.24 → 1.93 s). Waiting, the scan
//   catches up ~0.7 s after the acquisition ends; a listing of /rescued/ makes it scan at once (~0.2 s for 512 MiB).
// Readers of the mount come first too: a copy of /raw from the cache (~1 GB/s) right after a cold read ran beside the
// hashing catching up, and was slower than the same copy after it (see busyRateNow()).
// So while such a medium is read, or the mount's readers read that fast, this work waits; it catches up from the
// cache (never reading the device) once the reading pauses or slows. The device's time comes first: a failing disk
// is read while it still reads, and checksums and the index of SBX blocks can come after. A slow medium (a CD or
// DVD, a disk struggling through bad areas) leaves a core idle, so it is hashed and scanned along, and both are ready
// with its last sector.
// The line is drawn well below the hashing's own rate: hashing along slows a reading by up to a third, so a medium
// found fast stays fast while hashed, and the choice does not flip back and forth. Below it the scan (~4 GB/s of
// CPU) takes a few percent of one core: it goes along with the hashing rather than keep a line of its own.

import { availableParallelism } from 'os';

/** A medium read, or readers served, faster than this (CachedDevice.busyRateNow) is not hashed or scanned along on few cores. */
export const WORK_ALONG_BELOW_BYTES_PER_SEC = 100e6;
/** From this many cores on, the background work always has a core of its own. */
export const CORES_TO_WORK_ALONG = 4;

/** Whether background work on cached bytes should wait now, given the device's current read rate. */
export function backgroundYield(deviceBytesPerSecond: () => number, cores = availableParallelism()): () => boolean {
  if (cores >= CORES_TO_WORK_ALONG) return () => false;
  return () => deviceBytesPerSecond() > WORK_ALONG_BELOW_BYTES_PER_SEC;
}
