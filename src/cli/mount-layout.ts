// `blkfs mount`: layouts where the mount would point at itself or into another blkfs mount, refused (exit 1) before
// anything is started or created. (--cache itself is checked by cache-argument.ts.)
// - A mountpoint inside a blkfs mount: it hides that mount's views (/rescued, /sbx) and keeps it from being
//   unmounted; a blkfs mount is read-only, nothing of ours belongs in it.
// - Without --cache, the default cache root inside the mountpoint: the cache would be created there, then hidden by
//   the mount (and the next medium's cache, at a media change, created through the server's own mount: a deadlock).
// - Without --cache, the mountpoint inside the cache root: at a media change the server looks for the new medium's
//   cache among the root's directories, its own mount among them (a synchronous read of its own mount: a deadlock);
//   and a backup of the caches would read the whole medium through the mount.
// - The control socket's directory inside the mountpoint or a blkfs mount: hidden, `blkfs umount` could not reach it.
// Reading another mount's /raw as the source is allowed (a second copy of a rescue; that mount still reads each
// sector from the device once): with the default cache root it finds that mount's own cache, in use, and says so.
import * as path from 'path';
import { UserError } from '../errors';
import { defaultCacheRoot } from '../cache/cache-paths';
import { controlSocketPath } from '../server/control-protocol';
import { mountEntries } from '../fuse/mountinfo';
import { real, within } from './cache-argument';

/** The blkfs mount `p` lies in (or is), looked up in the mount table: resolving a path inside a mount asks its server. */
function blkfsMountHolding(p: string): { mountpoint: string } | undefined {
  return mountEntries().find((m) => m.fstype === 'fuse.blkfs' && within(p, m.mountpoint));
}

/** Refuses (UserError) a mountpoint, cache root or control socket directory that would make the mount refer to itself. */
export function checkMountLayout(mountpoint: string, cacheDir: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  const mnt = path.resolve(mountpoint);
  const holder = blkfsMountHolding(mnt);
  if (holder && holder.mountpoint !== mnt) {
    throw new UserError(`the mountpoint ${mountpoint} lies inside the blkfs mount on ${holder.mountpoint}, which is read-only: mount elsewhere`);
  }
  // The mountpoint itself a blkfs mount: checkMountpoint (fuse-mount.ts) names what is mounted there.
  const mnts = new Set([mnt, real(mnt)]);
  const insideMount = (p: string) => [...mnts].some((m) => within(p, m) || within(real(p), m));
  if (cacheDir === undefined) {
    const root = path.resolve(defaultCacheRoot(env));
    if (insideMount(root)) {
      throw new UserError(`the cache root ${root} lies inside the mountpoint ${mountpoint}, where the mount would hide the cache: give --cache DIR elsewhere, or another mountpoint`);
    }
    if ([...mnts].some((m) => within(m, root) || within(m, real(root)))) {
      throw new UserError(
        `the mountpoint ${mountpoint} lies inside the cache root ${root}, where the server looks for each medium's cache (it would read its own mount) and a backup of the caches would read the whole medium: mount elsewhere`,
      );
    }
    const m = blkfsMountHolding(root);
    if (m) throw new UserError(`the cache root ${root} lies inside the blkfs mount on ${m.mountpoint}, which is read-only: give --cache DIR elsewhere`);
  }
  const socketDir = path.dirname(controlSocketPath(process.pid, cacheDir, env));
  if (insideMount(socketDir)) {
    throw new UserError(`the control socket's directory ${socketDir} lies inside the mountpoint ${mountpoint}, where the mount would hide it (blkfs umount could not reach the server): set XDG_RUNTIME_DIR elsewhere`);
  }
  const m = blkfsMountHolding(socketDir);
  if (m) throw new UserError(`the control socket's directory ${socketDir} lies inside the blkfs mount on ${m.mountpoint}, which is read-only: set XDG_RUNTIME_DIR elsewhere`);
}
