// A ddrescue image as its mapfile vouches for it: the bytes the mapfile calls rescued ('+') read from the image,
// every other byte EIO, as a mount's /raw answers where its map is not '+'. What `blkfs files IMAGE MAPFILE` gives
// The Sleuth Kit, so that bytes ddrescue never wrote (an image over a used disk, a reused image file, --fill-mode)
// are never taken for filesystem metadata. Served with FUSE direct I/O like /raw: the good bytes before an
// unrescued one as a short read, then EIO.
import * as fs from 'fs';
import { FileAttr, Handle, View, ViewErrno } from './view';

export class MaskedImageView implements View {
  readonly kind = 'file';
  private readonly mtime = new Date();
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  /**
   * `rescued`: the '+' byte ranges [start, end), sorted, not overlapping; `size`: the medium's size (what TSK is told,
   * as /raw tells it: the mapfile may go on past the end of the image, never with '+').
   */
  constructor(
    private readonly image: string,
    rescued: readonly (readonly [number, number])[],
    readonly size: number,
  ) {
    for (const [s, e] of rescued) {
      const n = this.ends.length;
      if (e <= s) continue;
      if (n > 0 && s < this.ends[n - 1]) throw new Error('rescued ranges must be sorted and not overlap');
      // Adjacent '+' blocks are one: a read across their border is whole.
      if (n > 0 && this.ends[n - 1] === s) this.ends[n - 1] = e;
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
  }

  getattr(): FileAttr {
    return { size: this.size, mode: 0o444, mtime: this.mtime };
  }

  async open(): Promise<Handle> {
    return fs.promises.open(this.image, 'r');
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return Buffer.alloc(0);
    const rescuedEnd = this.rescuedRunEnd(offset);
    if (rescuedEnd === undefined) return new ViewErrno('EIO', `byte ${offset} is not rescued in the mapfile`);
    const n = Math.min(end, rescuedEnd) - offset;
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await (handle as fs.promises.FileHandle).read(buf, 0, n, offset);
    // The image ends before bytes its mapfile calls rescued (a block device shorter than the map, a file cut meanwhile):
    // what it holds, then EIO; never zeros.
    if (bytesRead === 0) return new ViewErrno('EIO', `the image ends at byte ${offset}, before the end of what its mapfile calls rescued`);
    return bytesRead === n ? buf : buf.subarray(0, bytesRead);
  }

  async release(handle: Handle): Promise<void> {
    await (handle as fs.promises.FileHandle).close();
  }

  /** The end of the rescued range holding `offset`, or undefined when that byte is not rescued. */
  private rescuedRunEnd(offset: number): number | undefined {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length && this.starts[lo] <= offset ? this.ends[lo] : undefined;
  }
}
