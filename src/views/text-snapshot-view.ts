// A small text file whose content is rendered when it is opened: each open handle reads one consistent
// snapshot, however the state changes while it is read (ddrescue and ddrescuelog read a mapfile with
// several read() calls).
import { FileAttr, Handle, View, ViewErrno } from './view';

export class TextSnapshotView implements View {
  readonly kind = 'file';
  private memo: { key: string; bytes: Buffer } | undefined;
  /** Snapshots of the open handles, newest last. */
  private readonly opened: Buffer[] = [];

  /**
   * @param render  the whole file's text for the current state
   * @param stateKey  cheap fingerprint of the state; getattr re-renders only when it changes, so `stat`
   *                  loops stay cheap even for a mapfile of 100,000 extents (without one, it always renders).
   *                  An open always renders: the snapshot is of the moment of the open.
   */
  constructor(
    private readonly render: () => string,
    private readonly stateKey?: () => string,
  ) {}

  /**
   * The size a reader is about to see: while a handle is open, its snapshot's (programs fstat right after
   * open, e.g. Node's readFile reads exactly st_size bytes; FUSE gives getattr no handle to tell them apart, so
   * the newest open wins); otherwise the size of what an open would give now.
   */
  getattr(): FileAttr {
    const newest = this.opened[this.opened.length - 1];
    return { size: (newest ?? this.current()).length, mode: 0o444, mtime: new Date() };
  }

  async open(): Promise<Handle> {
    const snapshot = Buffer.from(this.render(), 'utf8');
    if (this.stateKey) this.memo = { key: this.stateKey(), bytes: snapshot };
    this.opened.push(snapshot);
    return snapshot;
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const bytes = handle as Buffer;
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  }

  async release(handle: Handle): Promise<void> {
    const i = this.opened.lastIndexOf(handle as Buffer);
    if (i >= 0) this.opened.splice(i, 1);
  }

  private current(): Buffer {
    if (!this.stateKey) return Buffer.from(this.render(), 'utf8');
    const key = this.stateKey();
    if (this.memo?.key !== key) this.memo = { key, bytes: Buffer.from(this.render(), 'utf8') };
    return this.memo.bytes;
  }
}
