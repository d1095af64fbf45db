// The narrow interface between a virtual file and the FUSE glue (src/fuse/). A view never imports
// fuse-native: its bytes are a function of the cache state, so it is tested without a mount.

/** Error names a view may answer with; src/fuse/errno.ts is the one table that turns them into numbers. */
export type ErrnoName = 'EIO' | 'ENOENT' | 'EISDIR' | 'ENOTDIR' | 'EACCES' | 'EROFS' | 'EBADF' | 'EINVAL' | 'ENXIO' | 'ENOMEDIUM' | 'ENOMEM' | 'ENOSPC';

/** A view's answer that is an error, not bytes (e.g. EIO at a bad sector). */
export class ViewErrno {
  constructor(
    readonly errno: ErrnoName,
    readonly reason?: string,
  ) {}
}

export interface FileAttr {
  size: number;
  /** Permission bits only (the file type comes from the node kind). */
  mode: number;
  mtime: Date;
}

/** Per-open state of a view (e.g. the mapfile snapshot taken at open). */
export type Handle = unknown;

export interface View {
  readonly kind: 'file';
  getattr(): FileAttr | Promise<FileAttr>;
  open(): Promise<Handle>;
  /**
   * Bytes at [offset, offset+length) of the open file: fewer than asked at the end of the file, or where the
   * file cannot go on (a short read, then a ViewErrno at the next call, as a disk read with direct I/O).
   */
  read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno>;
  release(handle: Handle): Promise<void>;
  /**
   * The size of what this handle reads, for views whose handles read a snapshot taken at open: getattr may state more
   * (the largest snapshot open), so a download's Content-Length comes from here.
   */
  sizeOf?(handle: Handle): number;
}

/**
 * A file a program may also write (only /mapfile, for GNU ddrescue). Writes go to the open handle; what was
 * written takes effect when the handle is flushed (close(2)) or released: a view may refuse it then (EINVAL).
 */
export interface WritableView extends View {
  openForWrite(truncate: boolean): Promise<Handle>;
  write(handle: Handle, offset: number, data: Buffer): Promise<number | ViewErrno>;
  /** ftruncate(2) with a handle; truncate(2) on the path without one. */
  truncate(handle: Handle | undefined, size: number): Promise<void | ViewErrno>;
  /** close(2): apply what this handle wrote. */
  flush(handle: Handle): Promise<void | ViewErrno>;
}

export function isWritable(v: View): v is WritableView {
  return typeof (v as Partial<WritableView>).openForWrite === 'function';
}

/** A directory whose listing may change while mounted (e.g. /rescued/ as containers are found). */
export interface DirectoryView {
  readonly kind: 'directory';
  entries(): Promise<ReadonlyMap<string, Node>> | ReadonlyMap<string, Node>;
  mtime?(): Date;
}

export type Node = View | DirectoryView;

/** A fixed directory, e.g. the mount root with raw, mapfile and status. */
export class StaticDirectory implements DirectoryView {
  readonly kind = 'directory';
  private readonly children = new Map<string, Node>();
  private readonly created = new Date();

  add(name: string, node: Node): this {
    if (name === '' || name.includes('/')) throw new Error(`bad entry name ${JSON.stringify(name)}`);
    this.children.set(name, node);
    return this;
  }

  entries(): ReadonlyMap<string, Node> {
    return this.children;
  }

  mtime(): Date {
    return this.created;
  }
}
