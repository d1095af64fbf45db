// The sparse data file holding the medium's bytes at their own offsets. Holes are never served: only sectors
// the state store marks '+' are read from here.
import * as fs from 'fs';
import { CacheFileTooLargeError, CacheFullError, DataFileSyncError, isDiskFull } from './errors';

/**
 * The largest single write(2). Measured with dd into a fresh file (512 MiB, this project's Linux 6.18 VM): writes of
 * 1 MiB or less took 0.18-0.22 s every time; writes of 2 or 4 MiB took that or 0.8-1.5 s at random, all of it kernel
 * time copying into the page cache (larger writes get larger page-cache folios: the likely cause). The acquisition's
 * 4 MiB spans were written whole before, and their writes then took 1 s of CPU in some runs and 0.2 s in others.
 */
export const MAX_WRITE_PIECE = 1024 * 1024;

/**
 * The most bytes one fs read or write call is given: Node aborts the process on a length over 2^31 - 1 (an archive
 * part of 2 GiB did, `args[3]->IsInt32()`), and Linux moves at most 0x7ffff000 bytes per call anyway.
 */
export const MAX_FS_CALL_BYTES = 1 << 30;

/** The bytes of `fh` at [offset, offset+length), fewer where the file ends (a short file is the caller's verdict). */
export async function readUpTo(fh: fs.promises.FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length); // only the bytes read are returned
  let got = 0;
  for (let n = -1; got < length && n !== 0; got += n) n = (await fh.read(buf, got, Math.min(length - got, MAX_FS_CALL_BYTES), offset + got)).bytesRead;
  return buf.subarray(0, got);
}

export class DataFile {
  /** The last write queued (settled either way): the next one starts after it. */
  private writing: Promise<void> = Promise.resolve();
  /** Set for good once an fdatasync failed: every later one fails with it (see DataFileSyncError). */
  syncFailure: DataFileSyncError | undefined;

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly fh: fs.promises.FileHandle,
  ) {}

  /** Opens (creating it sparse when missing) a data file of exactly `size` bytes. */
  static async open(path: string, size: number): Promise<DataFile> {
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(path, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fh = await fs.promises.open(path, 'w+', 0o600); // a copy of someone's disk: private, as the cache's other files
    }
    try {
      const st = await fh.stat();
      if (st.size !== size) await fh.truncate(size); // ftruncate: extends as a hole, costs no space
    } catch (e) {
      await fh.close();
      if ((e as NodeJS.ErrnoException).code === 'EFBIG') throw new CacheFileTooLargeError(path, size);
      throw isDiskFull(e) ? new CacheFullError(path, e) : e;
    }
    return new DataFile(path, size, fh);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    await this.readInto(buf, 0, length, offset);
    return buf;
  }

  /**
   * Fills target[at, at+length) with the bytes at `position`: one pread in the common case. The callback API on
   * the raw fd costs less per call than FileHandle.read (this is the warm /raw path).
   */
  readInto(target: Buffer, at: number, length: number, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        if (done >= length) return resolve();
        fs.read(this.fh.fd, target, at + done, length - done, position + done, (err, n) => {
          if (err) return reject(err);
          if (n === 0) return reject(new Error(`data file ${this.path} is shorter than expected at ${position + done}`));
          step(done + n);
        });
      };
      step(0);
    });
  }

  /** readInto() on the calling thread (a pread that blocks it): for bytes likely in the page cache. */
  readIntoSync(target: Buffer, at: number, length: number, position: number): void {
    for (let done = 0; done < length; ) {
      const n = fs.readSync(this.fh.fd, target, at + done, length - done, position + done);
      if (n === 0) throw new Error(`data file ${this.path} is shorter than expected at ${position + done}`);
      done += n;
    }
  }

  /**
   * Writes `data` at `offset`. Writes run one at a time, in call order: the kernel serialises buffered writes to
   * one file anyway (a second pool thread would spin on the file's lock), and the pool's other threads stay free
   * for the syncs and reads that others wait for.
   */
  write(offset: number, data: Buffer): Promise<void> {
    const run = this.writing.then(() => this.writeNow(offset, data));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeNow(offset: number, data: Buffer): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const piece = Math.min(data.length - done, MAX_WRITE_PIECE);
        const { bytesWritten } = await this.fh.write(data, done, piece, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw isDiskFull(e) ? new CacheFullError(this.path, e) : e;
    }
  }

  /**
   * fdatasync: the bytes written so far are durable once this resolves. Once one failed, none resolves again: the
   * kernel may have dropped pages it failed to write back, and a later fdatasync would not say so.
   */
  async sync(): Promise<void> {
    if (this.syncFailure) throw this.syncFailure;
    try {
      await this.fh.datasync();
    } catch (e) {
      throw (this.syncFailure ??= new DataFileSyncError(this.path, e));
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
