// /raw: the medium, read-only, through the cache. Served with FUSE direct I/O, so each read() of a program
// reaches this view with its own offset and size and gets what a disk read gives: the good bytes as a
// short read, then EIO at the bad sector. Never zeros in place of data.
import { RangeReader } from './device-cache';
import { FileAttr, Handle, View, ViewErrno } from './view';

export class RawView implements View {
  readonly kind = 'file';
  private readonly mounted = new Date();

  constructor(private readonly device: RangeReader) {}

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
    // Nothing good at the start of the range: the read starts at a bad sector (or the cache said nothing
    // useful, which is never turned into an empty read: that would look like end of file).
    return new ViewErrno('EIO', errorAt !== undefined ? `bad sector at ${errorAt}` : `no data at ${offset}`);
  }

  async release(): Promise<void> {}
}
