// /raw: the medium, read-only, through the cache. Served with FUSE direct I/O, so each read() of a program
// reaches this view with its own offset and size and gets what a disk read gives: the good bytes as a
// short read, then EIO at the bad sector. Never zeros in place of data.
import type { IntoRead, SectorCache } from '../cache/sector-cache';
import { FileAttr, Handle, View, ViewErrno } from './view';

export class RawView implements View {
  readonly kind = 'file';
  private readonly mounted = new Date();

  /** The part of the cache /raw uses (the FUSE glue's tests and bench give it other bytes). */
  constructor(private readonly device: Pick<SectorCache, 'size' | 'read' | 'readInto' | 'commitPending'>) {}

  getattr(): FileAttr {
    return { size: this.device.size, mode: 0o444, mtime: this.mounted };
  }

  async open(): Promise<Handle> {
    return null;
  }

  async read(_handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const end = Math.min(offset + length, this.device.size);
    if (offset >= end) return Buffer.alloc(0);
    const { data, errorAt } = await this.device.read(offset, end - offset, 'foreground');
    if (data.length > 0) return data;
    return noData(offset, errorAt);
  }

  /**
   * read() straight into `target` (the kernel's buffer, for the FUSE glue): the number of good bytes put at its
   * start, or the same ViewErrno; at once when the cache had every byte at hand. Saves the per-read buffer and copy
   * of read() (and, when answered at once, a promise) on the hot path of a copy.
   */
  readInto(_handle: Handle, offset: number, target: Buffer, length: number): number | ViewErrno | Promise<number | ViewErrno> {
    const end = Math.min(offset + length, this.device.size);
    if (offset >= end) return 0;
    const n = end - offset;
    const answer = ({ bytes, errorAt }: IntoRead) => (bytes > 0 ? bytes : noData(offset, errorAt));
    const got = this.device.readInto(offset, n === target.length ? target : target.subarray(0, n), 'foreground');
    return got instanceof Promise ? got.then(answer) : answer(got);
  }

  /**
   * A program closes the file (FUSE flush, which close(2) waits for): readers are answered before their sectors'
   * commit, so wait for it here. Then whatever the program read is in the /mapfile and /status it opens next.
   */
  flush(): Promise<void> {
    return this.device.commitPending();
  }

  async release(): Promise<void> {}
}

/** Nothing good at the start of the range: the read starts at a bad sector (or the cache said nothing useful,
 * which is never turned into an empty read: that would look like end of file). */
function noData(offset: number, errorAt: number | undefined): ViewErrno {
  return new ViewErrno('EIO', errorAt !== undefined ? `bad sector at ${errorAt}` : `no data at ${offset}`);
}
