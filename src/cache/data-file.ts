// The sparse data file holding the medium's bytes at their own offsets. Holes are never served: only sectors
// the state store marks '+' are read from here.
import * as fs from 'fs';
import { CacheFullError, isDiskFull } from './errors';

export class DataFile {
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
      fh = await fs.promises.open(path, 'w+');
    }
    try {
      const st = await fh.stat();
      if (st.size !== size) await fh.truncate(size); // ftruncate: extends as a hole, costs no space
    } catch (e) {
      await fh.close();
      throw isDiskFull(e) ? new CacheFullError(path, e) : e;
    }
    return new DataFile(path, size, fh);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`data file ${this.path} is shorter than expected at ${offset + done}`);
      done += bytesRead;
    }
    return buf;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw isDiskFull(e) ? new CacheFullError(this.path, e) : e;
    }
  }

  /** fdatasync: the bytes written so far are durable once this resolves. */
  async sync(): Promise<void> {
    try {
      await this.fh.datasync();
    } catch (e) {
      throw isDiskFull(e) ? new CacheFullError(this.path, e) : e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
