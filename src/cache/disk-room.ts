// Room on the cache's disk for what the next device read brings. Once a write or commit failed because that disk
// is full, a sector read from the medium could not be kept: reading on would read sectors only to lose them, and
// read them again later (each sector is read once). So from then on, until a commit succeeds again, each device
// read first asks the filesystem for room for its bytes plus a margin for the state's journal; without it the read
// fails at once with CacheFullError and the medium is not touched. Freeing space lets reading go on, unmounting
// is not needed.
import { promises as fsp } from 'fs';
import * as path from 'path';
import { CacheFullError } from './errors';

/** Room kept beyond a read's own bytes: the state's journal pages for its commit. */
export const JOURNAL_MARGIN_BYTES = 256 * 1024;

/** Bytes the filesystem holding `dir` would let this process write (root may use the blocks reserved for it). */
export async function freeBytesAt(dir: string): Promise<number> {
  const st = await fsp.statfs(dir);
  return (process.getuid?.() === 0 ? st.bfree : st.bavail) * st.bsize;
}

export class DiskRoom {
  private full = false;

  constructor(
    /** The data file: its directory is the cache's, and its path names the error. */
    private readonly dataPath: string,
    private readonly freeBytes: (dir: string) => Promise<number> = freeBytesAt,
  ) {}

  /** A write or commit failed for lack of space. */
  noteFull(): void {
    this.full = true;
  }

  /** A commit succeeded: there was room. */
  noteStored(): void {
    this.full = false;
  }

  /** True while the disk was last seen full: device reads must check() first. */
  get wasFull(): boolean {
    return this.full;
  }

  /** Rejects with CacheFullError, before any device read, when the disk was full and still has no room for `bytes`. */
  async check(bytes: number): Promise<void> {
    if (!this.full) return;
    const free = await this.freeBytes(path.dirname(this.dataPath));
    if (free < bytes + JOURNAL_MARGIN_BYTES) {
      throw new CacheFullError(this.dataPath, undefined, `${free} bytes free, ${bytes} needed: the medium was not read`);
    }
  }
}
