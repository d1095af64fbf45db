// Loads fuse-native 2.2.6 and gives it the few types blkfs uses.
//
// fuse-native's addon (built by node-gyp, or its prebuild) links `libfuse.so.2` with no rpath, and Debian 12 only
// ships libfuse3. The libfuse 2.9 it bundles (fuse-shared-library-linux) has that SONAME, so loading it by path
// first lets the dynamic linker satisfy the addon's DT_NEEDED from the already-loaded object. RTLD_NODELETE
// (0x1000 in glibc; Node's os.constants.dlopen lacks it) keeps it loaded after Node's process.dlopen rejects it
// for not being a Node module. A system libfuse2, when installed, is not needed and not disturbed.
import * as os from 'os';

export interface FuseStat {
  mode: number;
  size: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  mtime: Date;
  atime: Date;
  ctime: Date;
  blksize?: number;
  blocks?: number;
}

export interface FuseStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** Callbacks take a negative errno, or 0 / a value (fuse-native's convention). */
export interface FuseOps {
  init?(cb: (err: number) => void): void;
  statfs?(path: string, cb: (err: number, st?: FuseStatfs) => void): void;
  getattr?(path: string, cb: (err: number, st?: FuseStat) => void): void;
  fgetattr?(path: string, fd: number, cb: (err: number, st?: FuseStat) => void): void;
  readdir?(path: string, cb: (err: number, names?: string[], stats?: FuseStat[]) => void): void;
  open?(path: string, flags: number, cb: (err: number, fd?: number) => void): void;
  opendir?(path: string, flags: number, cb: (err: number, fd?: number) => void): void;
  /** Signal the number of bytes copied into buf (≥ 0) or a negative errno. */
  read?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void;
  /** Signal the number of bytes taken from buf (≥ 0) or a negative errno. */
  write?(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (result: number) => void): void;
  truncate?(path: string, size: number, cb: (err: number) => void): void;
  ftruncate?(path: string, fd: number, size: number, cb: (err: number) => void): void;
  fsync?(path: string, datasync: boolean, fd: number, cb: (err: number) => void): void;
  release?(path: string, fd: number, cb: (err: number) => void): void;
  releasedir?(path: string, fd: number, cb: (err: number) => void): void;
  access?(path: string, mode: number, cb: (err: number) => void): void;
  create?(path: string, mode: number, cb: (err: number, fd?: number) => void): void;
  mknod?(path: string, mode: number, dev: number, cb: (err: number) => void): void;
  mkdir?(path: string, mode: number, cb: (err: number) => void): void;
  unlink?(path: string, cb: (err: number) => void): void;
  rmdir?(path: string, cb: (err: number) => void): void;
  rename?(src: string, dest: string, cb: (err: number) => void): void;
  link?(src: string, dest: string, cb: (err: number) => void): void;
  symlink?(src: string, dest: string, cb: (err: number) => void): void;
  chmod?(path: string, mode: number, cb: (err: number) => void): void;
  chown?(path: string, uid: number, gid: number, cb: (err: number) => void): void;
}

export interface FuseOptions {
  fsname?: string;
  subtype?: string;
  /** Per-operation timeout in ms, or false (a slow medium must not turn into ETIMEDOUT). */
  timeout?: number | false;
  debug?: boolean;
  maxRead?: number;
  allowOther?: boolean;
  /** The kernel checks each access against the modes and owner getattr reports (with allowOther: others only read). */
  defaultPermissions?: boolean;
  autoUnmount?: boolean;
}

export interface FuseInstance {
  mount(cb: (err: Error | null) => void): void;
  unmount(cb: (err: (Error & { unmountFailure?: boolean }) | null) => void): void;
}

export interface FuseConstructor {
  new (mountpoint: string, ops: FuseOps, opts?: FuseOptions): FuseInstance;
  unmount(mountpoint: string, cb: (err: Error | null) => void): void;
}

const RTLD_NODELETE = 0x1000;
let loaded: FuseConstructor | undefined;

export function loadFuse(): FuseConstructor {
  if (loaded) return loaded;
  if (process.platform === 'linux') {
    try {
      const lib: string = require('fuse-shared-library').lib;
      const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen;
      process.dlopen({ exports: {} }, lib, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch {
      // Expected: "Module did not self-register" — the library is loaded all the same.
    }
  }
  loaded = require('fuse-native') as FuseConstructor;
  return loaded;
}
