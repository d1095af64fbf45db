// Translates fuse-native's callback operations into calls on views. Read-only filesystem except for views that
// accept writes (WritableView: /mapfile, for ddrescue); any other open for writing is EROFS. Each open gets its own handle number so a view can keep per-open state (snapshots).
import { FuseOps, FuseStat } from './fuse-binding';
import { errnoNameOf, fuseErrno } from './errno';
import { Router } from './router';
import { Handle, isWritable, Node, View, ViewErrno } from '../views/view';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;

export type OpErrorLogger = (op: string, path: string, err: unknown) => void;

interface OpenFile {
  path: string;
  view: View;
  handle: Handle;
  /** The view's readInto, when it has one. */
  fill?: FillsBuffer['readInto'];
}

/**
 * A view that can put its bytes straight into the kernel's buffer (RawView): the number of bytes it filled, or
 * a ViewErrno. Saves a buffer and a copy per read on the hot path; other views answer with read().
 */
export interface FillsBuffer {
  /** At once (no promise) when the bytes were at hand. */
  readInto(handle: Handle, offset: number, target: Buffer, length: number): number | ViewErrno | Promise<number | ViewErrno>;
}

/**
 * A view each of whose handles reads the snapshot taken at its open (GeneratedFileView, /mapfile): the size no
 * open reader may be told less than (undefined with none open), since Node's readFile reads at most st_size bytes.
 */
export interface SnapshotsOnOpen {
  openSize(): number | undefined;
}

/** A view with work to finish when a program closes the file (close(2) waits for it): RawView's pending commits. */
export interface FlushesOnClose {
  flush(handle: Handle): Promise<void>;
}

/** fuse-native's flush operation (called on every close(2) of a file of the mount). */
type FlushOp = (path: string, fd: number, cb: (err: number) => void) => void;

/**
 * The kernel also reads a file of this mount through its page cache: when a program maps it (MAP_PRIVATE, which
 * FUSE direct I/O allows), in whole pages at page boundaries. There a short answer is taken as the end of the file:
 * the rest of the pages is zero-filled and kept as the file's bytes, and its size shrinks. So a request that may
 * come from there (whole 4 KiB pages, also the unit of larger pages) never gets a short answer before the end of
 * the file (the good bytes before a bad sector): it gets EIO, so a mapped page holding a bad sector is SIGBUS, as on
 * a disk, and a read(2) gets the bytes of its requests before that one, then EIO. Other requests keep their exact
 * short read (the good bytes up to the bad sector).
 */
const PAGE_BYTES = 4096;

function errnoOrNothing(r: void | ViewErrno): void {
  if (r instanceof ViewErrno) throw r;
}

export function buildFuseOps(router: Router, logError: OpErrorLogger = () => {}): FuseOps & { flush: FlushOp } {
  const open = new Map<number, OpenFile>();
  let nextFd = 1;

  /** Runs an async operation and reports a thrown error as an errno (never as a crash of the server). */
  function guard<T>(op: string, path: string, run: () => Promise<T>, fail: (errno: number) => void, ok: (v: T) => void): void {
    run().then(ok, (err: unknown) => {
      if (!(err instanceof ViewErrno)) logError(op, path, err);
      fail(fuseErrno(errnoNameOf(err)));
    });
  }

  // Everything belongs to the user who mounted (fuse-native would say root): with --allow-other the kernel checks
  // accesses against these owners and modes, so /mapfile stays writable by that user alone.
  const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };

  async function stat(node: Node): Promise<FuseStat> {
    if (node.kind === 'directory') {
      const mtime = node.mtime?.() ?? new Date(0);
      return { mode: S_IFDIR | 0o555, size: 4096, nlink: 2, ...owner, mtime, atime: mtime, ctime: mtime };
    }
    const a = await node.getattr();
    return {
      mode: S_IFREG | a.mode,
      ...owner,
      size: a.size,
      nlink: 1,
      mtime: a.mtime,
      atime: a.mtime,
      ctime: a.mtime,
      blksize: 4096,
      blocks: Math.ceil(a.size / 512),
    };
  }

  /** The size of the file as the open handle sees it (a snapshot view's own snapshot). */
  async function endOfFileAt(file: OpenFile): Promise<number> {
    return file.view.sizeOf?.(file.handle) ?? (await file.view.getattr()).size;
  }

  async function resolve(path: string): Promise<Node> {
    const node = await router.resolve(path);
    if (node instanceof ViewErrno) throw node;
    return node;
  }

  /**
   * A snapshot view's size is at least that of the snapshots still open on its path, including those of the view a
   * media change replaced (the path now resolves to the new medium's view, which knows nothing of them).
   */
  async function statOfPath(path: string): Promise<FuseStat> {
    const node = await resolve(path);
    const st = await stat(node);
    if (typeof (node as Partial<SnapshotsOnOpen>).openSize !== 'function') return st;
    for (const f of open.values()) {
      const size = f.path === path && f.view !== node ? (f.view as Partial<SnapshotsOnOpen>).openSize?.() : undefined;
      if (size !== undefined && size > st.size) Object.assign(st, { size, blocks: Math.ceil(size / 512) });
    }
    return st;
  }

  const getattr: NonNullable<FuseOps['getattr']> = (path, cb) => guard('getattr', path, () => statOfPath(path), (e) => cb(e), (st) => cb(0, st));

  return {
    getattr,
    fgetattr: (path, _fd, cb) => getattr(path, cb),
    readdir: (path, cb) =>
      guard(
        'readdir',
        path,
        async () => {
          const node = await resolve(path);
          if (node.kind !== 'directory') throw new ViewErrno('ENOTDIR');
          return [...(await node.entries()).keys()];
        },
        (e) => cb(e),
        (names) => cb(0, names),
      ),
    open: (path, flags, cb) =>
      guard(
        'open',
        path,
        async () => {
          const node = await resolve(path);
          if (node.kind === 'directory') throw new ViewErrno('EISDIR');
          const writing = (flags & O_ACCMODE) !== 0;
          if (writing && !isWritable(node)) throw new ViewErrno('EROFS');
          const handle = writing && isWritable(node) ? await node.openForWrite((flags & O_TRUNC) !== 0) : await node.open();
          const fd = nextFd++;
          const fill = (node as Partial<FillsBuffer>).readInto;
          open.set(fd, { path, view: node, handle, fill: typeof fill === 'function' ? fill.bind(node) : undefined });
          return fd;
        },
        (e) => cb(e),
        (fd) => cb(0, fd),
      ),
    // The hot path (every request of a copy, up to 1 MiB): one promise from the view, which fills the kernel's buffer if it can.
    read: (path, fd, buf, len, pos, cb) => {
      const file = open.get(fd);
      if (!file) return cb(fuseErrno('EBADF'));
      const failed = (err: unknown) => {
        logError('read', path, err);
        cb(fuseErrno(errnoNameOf(err)));
      };
      const mayBePaged = pos % PAGE_BYTES === 0 && len % PAGE_BYTES === 0;
      const answer = (got: number | ViewErrno) => {
        if (got instanceof ViewErrno) return cb(fuseErrno(got.errno));
        const n = Math.min(got, len);
        if (n === len || !mayBePaged) return cb(n);
        endOfFileAt(file).then((size) => cb(pos + n >= size ? n : fuseErrno('EIO')), failed);
      };
      if (file.fill) {
        let got: number | ViewErrno | Promise<number | ViewErrno>;
        try {
          got = file.fill(file.handle, pos, buf, len);
        } catch (err) {
          return failed(err);
        }
        if (got instanceof Promise) got.then(answer, failed);
        else answer(got);
        return;
      }
      file.view.read(file.handle, pos, len).then((got) => {
        // A view never returns more than asked; guard anyway, the kernel buffer is exactly len bytes.
        answer(got instanceof ViewErrno ? got : got.copy(buf, 0, 0, Math.min(got.length, len)));
      }, failed);
    },
    write: (path, fd, buf, len, pos, cb) => {
      const file = open.get(fd);
      if (!file || !isWritable(file.view)) return cb(fuseErrno('EBADF'));
      // fuse-native reuses buf after the callback: the view keeps a copy.
      file.view.write(file.handle, pos, Buffer.from(buf.subarray(0, len))).then(
        (n) => cb(n instanceof ViewErrno ? fuseErrno(n.errno) : n),
        (err: unknown) => {
          logError('write', path, err);
          cb(fuseErrno(errnoNameOf(err)));
        },
      );
    },
    ftruncate: (path, fd, size, cb) => {
      const file = open.get(fd);
      if (!file || !isWritable(file.view)) return cb(fuseErrno(file ? 'EROFS' : 'EBADF'));
      const view = file.view;
      guard('ftruncate', path, async () => errnoOrNothing(await view.truncate(file.handle, size)), (e) => cb(e), () => cb(0));
    },
    truncate: (path, size, cb) =>
      guard(
        'truncate',
        path,
        async () => {
          const node = await resolve(path);
          if (node.kind === 'directory') throw new ViewErrno('EISDIR');
          if (!isWritable(node)) throw new ViewErrno('EROFS');
          errnoOrNothing(await node.truncate(undefined, size));
        },
        (e) => cb(e),
        () => cb(0),
      ),
    // What a writer wrote reaches the cache at close (flush); there is nothing more to make durable here.
    fsync: (_path, _datasync, _fd, cb) => cb(0),
    flush: (path, fd, cb) => {
      const file = open.get(fd);
      if (file && isWritable(file.view)) {
        const view = file.view;
        return guard('flush', path, async () => errnoOrNothing(await view.flush(file.handle)), (e) => cb(e), () => cb(0));
      }
      const view = file?.view as Partial<FlushesOnClose> | undefined;
      if (!file || typeof view?.flush !== 'function') return cb(0);
      guard('flush', path, () => (view as FlushesOnClose).flush(file.handle), (e) => cb(e), () => cb(0));
    },
    release: (path, fd, cb) =>
      guard(
        'release',
        path,
        async () => {
          const file = open.get(fd);
          open.delete(fd);
          if (file) await file.view.release(file.handle);
        },
        (e) => cb(e),
        () => cb(0),
      ),
    // The tree is fixed and read-only: changing it is EROFS, as on any read-only filesystem (not ENOSYS,
    // "function not implemented", which is what `cp x /mnt/disk/` would otherwise say). No utimens: libfuse
    // may call it inside the setattr of ddrescue's O_TRUNC open of /mapfile.
    create: (_path, _mode, cb) => cb(fuseErrno('EROFS')),
    mknod: (_path, _mode, _dev, cb) => cb(fuseErrno('EROFS')),
    mkdir: (_path, _mode, cb) => cb(fuseErrno('EROFS')),
    unlink: (_path, cb) => cb(fuseErrno('EROFS')),
    rmdir: (_path, cb) => cb(fuseErrno('EROFS')),
    rename: (_src, _dest, cb) => cb(fuseErrno('EROFS')),
    link: (_src, _dest, cb) => cb(fuseErrno('EROFS')),
    symlink: (_src, _dest, cb) => cb(fuseErrno('EROFS')),
    chmod: (_path, _mode, cb) => cb(fuseErrno('EROFS')),
    chown: (_path, _uid, _gid, cb) => cb(fuseErrno('EROFS')),
    statfs: (_path, cb) =>
      cb(0, { bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 }),
  };
}
