// `blkfs mount --cache DIR`: refused (exit 1) where the cache would be lost or mixed with another one. A cache in
// the mountpoint is hidden by the mount; a mountpoint in the cache makes anything that walks the cache (du, rsync,
// a backup) read the whole medium through the mount; a cache inside another cache mixes two media's rescued data;
// a cache another mount is using is that mount's. The server's own lock (CacheBusyError) remains the last word;
// this names who holds the cache and where it is mounted, before anything is started.
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../errors';
import { STATE_FILE } from '../cache/cache-paths';
import { CacheBusyError } from '../cache/errors';
import { mountsServedBy } from '../fuse/fuse-daemon';
import { mountEntries } from '../fuse/mountinfo';
import { openFiles } from '../proc-fds';

/** A path with its symlinks resolved as far as it exists (the rest appended as given). */
export function real(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(real(parent), path.basename(abs));
  }
}

export function within(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer + path.sep);
}

/** Who holds the cache database in `dir` open, and the blkfs mount it serves, if any. */
export function cacheUser(dir: string): { pid: number; mountpoint?: string } | undefined {
  const db = path.join(dir, STATE_FILE);
  const holder = openFiles((t) => t === db)[0];
  if (!holder) return undefined;
  return { pid: holder.pid, mountpoint: mountsServedBy(holder.pid)[0]?.mountpoint };
}

function describeUser(user: { pid: number; mountpoint?: string }): string {
  return user.mountpoint !== undefined ? `the blkfs mount on ${user.mountpoint} (server pid ${user.pid})` : `blkfs process ${user.pid}`;
}

/**
 * A cache that `export --cache` or `import --cache` finds locked, named for who holds it: the mount it serves and
 * what to do instead (`instead(mountpoint)`). Any other error is returned as it is.
 */
export function busyCacheError(err: unknown, dir: string, instead: (mountpoint: string) => string): unknown {
  if (!(err instanceof CacheBusyError)) return err;
  const user = cacheUser(real(dir));
  if (!user) return err;
  return new UserError(`cache ${dir} is in use by ${describeUser(user)}${user.mountpoint !== undefined ? `: ${instead(user.mountpoint)}` : ''}`);
}

/** A blkfs cache in a subdirectory of `dir` (the default cache root holds one per medium, one level down), if any. */
function cacheWithin(dir: string, mountpoints: ReadonlySet<string>, depth = 2): string | undefined {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const sub = path.join(dir, e.name);
    // Never into a mount (a blkfs mount would be asked by its own server's reader) nor through symlinks.
    if (!e.isDirectory() || mountpoints.has(sub)) continue;
    if (fs.existsSync(path.join(sub, STATE_FILE))) return sub;
    if (depth > 1) {
      const deeper = cacheWithin(sub, mountpoints, depth - 1);
      if (deeper !== undefined) return deeper;
    }
  }
  return undefined;
}

/** The absolute cache directory for `--cache cache`, or a UserError saying why it cannot be one for `mountpoint`. */
export function checkCacheArgument(cache: string, mountpoint: string): string {
  const dir = path.resolve(cache);
  // Before any realpath: resolving a path inside a mount asks its server, which may not answer.
  const inMount = (p: string) => mountEntries().find((m) => m.fstype === 'fuse.blkfs' && within(p, m.mountpoint));
  const refuseInMount = (m: { mountpoint: string } | undefined) => {
    if (m) throw new UserError(`--cache ${cache} lies inside the blkfs mount on ${m.mountpoint}, which is read-only: put the cache elsewhere`);
  };
  if (!within(dir, path.resolve(mountpoint))) refuseInMount(inMount(dir));
  const realDir = real(dir);
  for (const mnt of new Set([path.resolve(mountpoint), real(mountpoint)])) {
    if (within(dir, mnt) || within(realDir, mnt)) {
      throw new UserError(`--cache ${cache} lies inside the mountpoint ${mountpoint}, where the mount would hide it: put the cache elsewhere`);
    }
    if (within(mnt, realDir)) {
      throw new UserError(
        `the mountpoint ${mountpoint} lies inside --cache ${cache}: anything walking the cache (du, rsync, a backup) would read the medium through the mount; keep them apart`,
      );
    }
  }
  refuseInMount(inMount(realDir));
  // An enclosing cache: walk up from the parent (the directory itself may be a cache: that is how one resumes).
  for (let up = path.dirname(realDir); ; up = path.dirname(up)) {
    if (fs.existsSync(path.join(up, STATE_FILE))) {
      const user = cacheUser(up);
      throw new UserError(
        `--cache ${cache} lies inside the cache directory ${up}${user ? `, in use by ${describeUser(user)}` : ''}: a cache cannot hold another; give a directory outside it`,
      );
    }
    if (path.dirname(up) === up) break;
  }
  if (!fs.existsSync(path.join(realDir, STATE_FILE))) {
    const inner = cacheWithin(realDir, new Set(mountEntries().map((m) => m.mountpoint)));
    if (inner !== undefined) {
      throw new UserError(
        `--cache ${cache} holds the blkfs cache ${inner}: a cache cannot hold another (is it the cache root?); give that cache, or a directory outside it`,
      );
    }
  }
  const user = cacheUser(realDir);
  if (user) throw new UserError(`--cache ${cache} is in use by ${describeUser(user)}: unmount it first, or give another directory`);
  return dir;
}
