/**
 * The random-access input interface the library reads through (files, buffers, a view's cache). Keeps
 * src/sbx/ free of any knowledge of FUSE or the cache.
 */
import { promises as fsp } from 'fs';
import { byteSize } from '../byte-size';

/** A readable byte range [0, size). */
export interface RandomReader {
  /** Total length in bytes. */
  readonly size: number;
  /**
   * Returns bytes [offset, offset + length) — exactly `length` bytes, or fewer only where the range
   * passes `size`. Rejects on I/O errors (never returns invented bytes).
   */
  read(offset: number, length: number): Promise<Buffer>;
}

/** Reads from a Buffer in memory. */
export class BufferReader implements RandomReader {
  constructor(private readonly buf: Uint8Array) {}
  get size(): number {
    return this.buf.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const start = Math.min(Math.max(0, offset), this.buf.length);
    const end = Math.min(this.buf.length, start + Math.max(0, length));
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start);
  }
}

/** Reads a regular file (or block device) with positional reads. Call close() when done. */
export class FileReader implements RandomReader {
  private constructor(
    private readonly handle: fsp.FileHandle,
    readonly size: number,
    private readonly owned: boolean,
    /** Named in read errors. */
    private readonly name: string,
  ) {}

  /** Opens `path` read-only; size from fstat, or from the kernel for a block device (unless `size` is given). */
  static async open(path: string, size?: number): Promise<FileReader> {
    const h = await fsp.open(path, 'r');
    try {
      return new FileReader(h, size ?? (await byteSize(await h.stat())), true, path);
    } catch (e) {
      await h.close();
      throw e;
    }
  }

  /** Wraps an already open handle; close() will not close it. */
  static fromHandle(handle: fsp.FileHandle, size: number, name: string): FileReader {
    return new FileReader(handle, size, false, name);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    const want = Math.max(0, end - offset);
    const buf = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const at = offset + got;
      const { bytesRead } = await this.handle.read(buf, got, want - got, at).catch((err: NodeJS.ErrnoException) => {
        // Node's "EIO: i/o error, read" says neither which file nor where: a failing medium's user needs both.
        if (err instanceof Error && typeof err.code === 'string') err.message += ` "${this.name}" at byte ${at} (0x${at.toString(16).toUpperCase()})`;
        throw err;
      });
      if (bytesRead === 0) break; // file shrank under us: return what exists
      got += bytesRead;
    }
    return got === want ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    if (this.owned) await this.handle.close();
  }
}
