// A cache holds a copy of someone's disk: its directory is 0700 and its files 0600 whatever the umask (chmod
// after creating, since the umask only ever removes bits). Path problems the user can fix (a --cache that is a
// file, a read-only or forbidden location) are UserErrors naming the path and the real cause.
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../errors';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** A cache location the user gave (or the default root) cannot be used: exit 1 with the cause. */
export class CachePathError extends UserError {
  constructor(
    readonly path: string,
    readonly code: string,
    detail: string,
  ) {
    super(`cannot use ${path} as a cache directory: ${detail} (${code})`);
    this.name = 'CachePathError';
  }
}

const CAUSES: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'it is a file, not a directory',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on the device',
};

/** Creates `dir` (and parents) and makes it private; rejects a path that is not (and cannot be) a directory. */
export function ensurePrivateDir(dir: string): void {
  try {
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    if (!st) mkdirEach(dir);
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (!(code in CAUSES)) throw e;
    const detail = code === 'ENOTDIR' && fs.existsSync(dir) ? 'it is a file, not a directory' : CAUSES[code];
    throw new CachePathError(dir, code, detail);
  }
}

/** mkdir -p one level at a time: Node's recursive mkdir reports ENOENT where the real cause is EROFS or EACCES. */
function mkdirEach(dir: string): void {
  const missing: string[] = [];
  for (let p = path.resolve(dir); !fs.existsSync(p); p = path.dirname(p)) missing.unshift(p);
  for (const p of missing) fs.mkdirSync(p, { mode: PRIVATE_DIR_MODE });
}

/** Makes an existing cache's directory and files private (caches made before this rule); best effort. */
export function tightenCacheDir(dir: string): void {
  try {
    fs.chmodSync(dir, PRIVATE_DIR_MODE);
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.lstatSync(p).isFile()) fs.chmodSync(p, PRIVATE_FILE_MODE);
    }
  } catch {
    // a read-only cache (verify, export of an archived copy) is still usable
  }
}

/**
 * Replaces `file` (mode 0600) with `text` so that a crash leaves the old content or the new, never a torn file:
 * written to a sibling, synced, then renamed over it.
 */
export function replacePrivateFile(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w', PRIVATE_FILE_MODE);
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE); // a sibling left by a crash keeps its old mode
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/** Creates `file` empty with mode 0600 if it does not exist (before SQLite or a writer opens it). */
export function createPrivateFile(file: string): void {
  try {
    const fd = fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY, PRIVATE_FILE_MODE);
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
    fs.closeSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}
