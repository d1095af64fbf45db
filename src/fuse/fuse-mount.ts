// Mount lifecycle of one FUSE filesystem served by this process.
//
// fuse-native 2.2.6 findings (verified on Linux 6.x, its bundled libfuse 2.9, as root):
// - Direct I/O: fuse-native has no direct_io option, but it joins its options into one '-o' string, so
//   fsname 'blkfs,direct_io' hands `direct_io` to libfuse's high-level lib, which sets it on every open.
//   Then each read() of a program arrives with its own offset and size (O_DIRECT or buffered alike), a
//   short read goes back to the program as short, the next read gets our EIO, and there is no page cache or
//   readahead. Without it, the kernel takes a short read as end of file (worse than zero fill).
// - Requests are at most 128 KiB (libfuse 2.9 protocol; max_read cannot raise it), 1 MiB with the preloaded
//   fuse-max-pages.so (request-size.ts). One reader's requests arrive one after another; several readers'
//   requests arrive concurrently.
// - Each operation has a 15 s timeout by default that answers ETIMEDOUT; a slow medium needs timeout false.
// - Unmount: fuse-native runs `fusermount -uz` (lazy) and leaves the loop; the process may then exit. An
//   external `fusermount -u` ends the FUSE thread but not the process, hence the mountinfo watch.
// - A Node process must never read its own mount synchronously (its event loop serves the requests).
import * as fs from 'fs';
import * as path from 'path';
import { execFile } from 'child_process';
import { promisify } from 'util';
import { loadFuse, FuseInstance } from './fuse-binding';
import { buildFuseOps, OpErrorLogger } from './fuse-ops';
import { mountAt } from './mountinfo';
import { Router } from './router';
import { DirectoryView } from '../views/view';
import { UserError } from '../errors';
import { cLocaleEnv } from '../clean-spawn';

const run = promisify(execFile);

/**
 * `command` (an unmount), or as soon as `unmounted()` says the mount is gone, whichever comes first. Seen on a mount
 * server: fusermount3 had exited (a zombie) and unmounted, yet its exit never reached Node, so `blkfs umount` waited
 * forever. The kernel's word on the mount is what counts.
 */
export async function untilUnmounted(command: Promise<unknown>, unmounted: () => boolean, pollMs = 100): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gone = new Promise<void>((resolve) => {
    timer = setInterval(() => unmounted() && resolve(), pollMs);
  });
  try {
    await Promise.race([command, gone]);
  } finally {
    clearInterval(timer);
  }
}

/** The MOUNTPOINT cannot be used; the message is for the user (CLI exit 1). */
export class MountpointError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'MountpointError';
  }
}

/** Checks what libfuse would reject with a bare "fuse failed", to give the user a reason. */
export function checkMountpoint(mountpoint: string): string {
  const abs = path.resolve(mountpoint);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MountpointError(`mountpoint does not exist: ${mountpoint}`);
    if (code === 'ENOTCONN') throw new MountpointError(`mountpoint is a dead FUSE mount (run: blkfs umount ${abs}): ${mountpoint}`);
    throw new MountpointError(`cannot access mountpoint ${mountpoint}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new MountpointError(`mountpoint is not a directory: ${mountpoint}`);
  const existing = mountAt(abs);
  if (existing) throw new MountpointError(`mountpoint is in use (${existing.fstype} from ${existing.source} is mounted there): ${mountpoint}`);
  // libfuse 2 refuses a non-empty mountpoint; hiding files under a mount would surprise anyway.
  if (fs.readdirSync(abs).length > 0) throw new MountpointError(`mountpoint is not empty: ${mountpoint}`);
  return abs;
}

/** A program still has a file of the mount open (or its cwd there): a plain unmount is refused. */
export class MountBusyError extends UserError {
  constructor(mountpoint: string) {
    super(`${mountpoint} is busy: a program still has a file open there (close it, or unmount with --lazy)`);
    this.name = 'MountBusyError';
  }
}

export interface FuseMountOptions {
  logError?: OpErrorLogger;
  debug?: boolean;
  /** How often to look for an unmount done behind our back (fusermount -u, umount). */
  watchIntervalMs?: number;
  /** The filesystem type after "fuse." in mountinfo: "blkfs" (a mount the other commands look for) unless said. */
  subtype?: string;
  /** libfuse's auto_unmount: fusermount unmounts once this process is gone, even killed (SIGKILL). */
  autoUnmount?: boolean;
  /**
   * Other users may use the mount (--allow-other). The kernel then enforces the modes getattr reports
   * (default_permissions): the files are theirs to read, /mapfile stays writable by the mount's owner only.
   */
  allowOther?: boolean;
}

export class FuseMount {
  private watch: NodeJS.Timeout | undefined;
  private unmounting: Promise<void> | undefined;
  private tryingPlainUnmount = false;
  private goneListeners: Array<() => void> = [];

  private constructor(
    readonly mountpoint: string,
    private readonly fuse: FuseInstance,
  ) {}

  static async mount(mountpoint: string, root: DirectoryView, opts: FuseMountOptions = {}): Promise<FuseMount> {
    const abs = checkMountpoint(mountpoint);
    const Fuse = loadFuse();
    const fuse = new Fuse(abs, buildFuseOps(new Router(root), opts.logError), {
      // See the findings above: the only way to pass direct_io through fuse-native. attr_timeout=0 (which
      // fuse-native drops when given as 0) makes every stat ask the view, so /mapfile and /status report the
      // size of the snapshot just opened rather than one the kernel cached a second ago.
      fsname: 'blkfs,direct_io,attr_timeout=0',
      subtype: opts.subtype ?? 'blkfs',
      timeout: false,
      debug: opts.debug,
      autoUnmount: opts.autoUnmount,
      allowOther: opts.allowOther,
      defaultPermissions: opts.allowOther,
    });
    await new Promise<void>((resolve, reject) =>
      fuse.mount((err) => (err ? reject(new MountpointError(`cannot mount on ${mountpoint}: ${err.message}`)) : resolve())),
    );
    const m = new FuseMount(abs, fuse);
    m.watch = setInterval(() => m.checkStillMounted(), opts.watchIntervalMs ?? 1000);
    m.watch.unref();
    return m;
  }

  /** Called once if the filesystem is unmounted by someone else. */
  onExternalUnmount(listener: () => void): void {
    this.goneListeners.push(listener);
  }

  isMounted(): boolean {
    const m = mountAt(this.mountpoint);
    return m !== undefined && m.fstype.startsWith('fuse');
  }

  /** Lazy unmount (detaches even while files are open: their next access fails). Idempotent. */
  unmount(): Promise<void> {
    this.unmounting ??= this.doUnmount();
    return this.unmounting;
  }

  /** Plain unmount, as `umount` does: MountBusyError while a program uses the mount, which stays as it is. */
  async unmountIfIdle(): Promise<void> {
    if (this.unmounting) return this.unmounting;
    this.tryingPlainUnmount = true;
    let busy = false;
    try {
      for (const cmd of ['fusermount3', 'fusermount', 'umount']) {
        const args = cmd === 'umount' ? [this.mountpoint] : ['-u', this.mountpoint];
        try {
          // The C locale: "busy" is read from its message, which a German system would say otherwise.
          await untilUnmounted(run(cmd, args, { env: cLocaleEnv() }), () => !this.isMounted());
          break;
        } catch (err) {
          const e = err as NodeJS.ErrnoException & { stderr?: string };
          if (e.code === 'ENOENT') continue; // no such command here
          busy ||= /busy/i.test(e.stderr ?? '');
          if (!this.isMounted()) break;
        }
      }
    } finally {
      this.tryingPlainUnmount = false;
    }
    if (this.isMounted()) throw busy ? new MountBusyError(this.mountpoint) : new Error(`could not unmount ${this.mountpoint}`);
    return this.unmount(); // now a no-op on the kernel side; stops the watch
  }

  private async doUnmount(): Promise<void> {
    if (this.watch) clearInterval(this.watch);
    if (!this.isMounted()) return;
    const viaFuseNative = await new Promise<Error | null>((resolve) => this.fuse.unmount((err) => resolve(err)));
    if (viaFuseNative && this.isMounted()) {
      // fuse-native shells out to `fusermount -uz`; try the other names before giving up.
      for (const [cmd, args] of [
        ['fusermount3', ['-uz', this.mountpoint]],
        ['fusermount', ['-uz', this.mountpoint]],
        ['umount', ['-l', this.mountpoint]],
      ] as const) {
        try {
          await untilUnmounted(run(cmd, [...args]), () => !this.isMounted());
          break;
        } catch {
          /* next */
        }
      }
    }
    if (this.isMounted()) throw new Error(`could not unmount ${this.mountpoint}: ${viaFuseNative?.message ?? 'still mounted'}`);
  }

  private checkStillMounted(): void {
    if (this.unmounting || this.tryingPlainUnmount || this.isMounted()) return;
    if (this.watch) clearInterval(this.watch);
    this.unmounting = Promise.resolve();
    for (const l of this.goneListeners) l();
  }
}
