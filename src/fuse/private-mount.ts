// A short-lived FUSE mount served by this process for a child program to read (The Sleuth Kit on an image masked
// by its mapfile): in a fresh directory only this user can enter, mounted for the time of `use`, then unmounted and
// removed whatever `use` did. The child must be awaited asynchronously: this event loop answers its reads. Should
// this process die without cleaning up (SIGKILL), libfuse's auto_unmount has fusermount unmount it.
import * as fs from 'fs';
import * as path from 'path';
import { OperationError } from '../errors';
import { makeOwnedTempDir } from '../temp-dirs';
import { loadFuse } from './fuse-binding';
import { FuseMount } from './fuse-mount';
import type { DirectoryView } from '../views/view';

/** mountinfo says "fuse.blkfs-private": not a blkfs mount for `blkfs umount|status|files` to find. */
export const PRIVATE_MOUNT_SUBTYPE = 'blkfs-private';
const DIR_PREFIX = 'blkfs-private-';

/** No FUSE mount can be made here (no /dev/fuse, no libfuse, not allowed); `reason` says which. */
export class FuseUnavailableError extends OperationError {
  constructor(readonly reason: string) {
    super(`FUSE is not available here: ${reason}`);
    this.name = 'FuseUnavailableError';
  }
}

/** The run was stopped (a signal) before `use` began. */
export class PrivateMountStoppedError extends OperationError {
  constructor() {
    super('stopped before the private mount was used');
    this.name = 'PrivateMountStoppedError';
  }
}

/**
 * Mounts `root` on a new private directory, runs `use(mountpoint)`, then unmounts (lazily: a reader still in there
 * cannot keep it) and removes the directory, on success, failure and abort alike. `use` gets the mountpoint; stopping
 * what it runs on `signal` is its own business (it must settle for the mount to go).
 */
export async function withPrivateMount<T>(root: DirectoryView, use: (mountpoint: string) => Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) throw new PrivateMountStoppedError();
  fuseDeviceCheck();
  try {
    loadFuse();
  } catch (err) {
    throw new FuseUnavailableError(`fuse-native cannot be loaded (${err instanceof Error ? err.message : String(err)})`);
  }
  // mkdtemp's directory is 0700: nobody else reaches the mount inside it. A killed process's (auto_unmount unmounted
  // its mount) is removed by the next.
  const dir = await makeOwnedTempDir(DIR_PREFIX, 'empty');
  const mountpoint = path.join(dir, 'mnt');
  await fs.promises.mkdir(mountpoint);
  let mount: FuseMount | undefined;
  try {
    try {
      mount = await FuseMount.mount(mountpoint, root, { subtype: PRIVATE_MOUNT_SUBTYPE, autoUnmount: true });
    } catch (err) {
      throw new FuseUnavailableError(err instanceof Error ? err.message : String(err)); // "cannot mount on …: fuse failed"
    }
    if (signal?.aborted) throw new PrivateMountStoppedError();
    return await use(mountpoint);
  } finally {
    await cleanUp(dir, mountpoint, mount);
  }
}

/** Unmounts and removes the directory; rmdir only, never a recursive removal: it must not reach into a mount. */
async function cleanUp(dir: string, mountpoint: string, mount: FuseMount | undefined): Promise<void> {
  let failure: unknown;
  if (mount) await mount.unmount().catch((err: unknown) => (failure = err));
  if (mount?.isMounted()) {
    throw new OperationError(
      `could not unmount the private mount ${mountpoint} (${failure instanceof Error ? failure.message : String(failure)}): run fusermount3 -uz ${mountpoint}`,
    );
  }
  await fs.promises.rmdir(mountpoint).catch(() => undefined);
  await fs.promises.rmdir(dir).catch(() => undefined);
}

/** libfuse only prints "fuse: device not found" to stderr and fails; say it plainly first. */
function fuseDeviceCheck(): void {
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FuseUnavailableError(
      code === 'ENOENT' ? 'there is no /dev/fuse (in a container: --device /dev/fuse; else: modprobe fuse)' : `/dev/fuse cannot be opened (${code ?? String(err)})`,
    );
  }
}
