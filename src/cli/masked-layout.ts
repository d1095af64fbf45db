// The Sleuth Kit on an image as its mapfile vouches for it (`blkfs files IMAGE MAPFILE` on an unfinished rescue):
// TSK reads the image through a private FUSE mount of this process where every byte the mapfile does not call
// rescued is EIO, as on a mount's /raw. So stale bytes in the image (ddrescue -f over a used disk, a reused image
// file, --fill-mode) are never taken for metadata, and unreadable metadata is reported as a live mount reports it.
import * as path from 'path';
import { OperationError } from '../errors';
import type { MediumLayout } from '../files/layout';
import { readMediumLayout } from '../files/tsk-loaddb';
import { MaskedImageView } from '../views/masked-image-view';
import { StaticDirectory } from '../views/view';
import { FuseUnavailableError, withPrivateMount } from '../fuse/private-mount';

/**
 * The layout of `image` as TSK reads it with only the `rescued` byte ranges ([start, end), sorted) readable, in a
 * medium of `size` bytes. `signal` stops TSK; the promise then rejects once TSK has exited and the mount is gone.
 */
export async function readMaskedLayout(image: string, rescued: readonly (readonly [number, number])[], size: number, signal?: AbortSignal): Promise<MediumLayout> {
  const root = new StaticDirectory().add('image', new MaskedImageView(image, rescued, size));
  try {
    return await withPrivateMount(root, (mnt) => readMediumLayout(path.join(mnt, 'image'), { signal, label: image }), signal);
  } catch (err) {
    if (!(err instanceof FuseUnavailableError)) throw err;
    throw new OperationError(
      `${err.message}. Its mapfile does not call every byte of ${image} rescued ('+'), and The Sleuth Kit may read only those that are (the others may hold stale bytes from an earlier use of the disk or image file): it reads the image through a private FUSE mount that answers EIO there, as a blkfs mount's /raw does. A fully rescued image needs no mount`,
    );
  }
}
