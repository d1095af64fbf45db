// Wires the two archive views into a mount: /sbx/ (image.sbx + image.map) and /rescued/ (SBX containers
// found on the medium), with their tables in the cache database and the background block scanner.
// The mount server calls createArchiveViews once the cache is open, adds the two directories to its root,
// reports status() in /status and calls close() before it closes the cache.
import type { SectorCache } from '../../cache/sector-cache';
import { FileTooLargeError } from '../../sbx/format/container-spec';
import { DirectoryView, StaticDirectory } from '../view';
import { BlockIndex } from '../rescued/block-index';
import { MediumScanner } from '../rescued/medium-scanner';
import { RescuedContainers, RescuedDirectory } from '../rescued/rescued-views';
import { defaultImageName, ImageIdentity, loadOrCreateIdentity } from './image-identity';
import { DEFAULT_IMAGE_PARAMS, SbxImageParams } from './image-params';
import { ImageSealStore } from './image-seal-store';
import { AcquisitionJoiner, ImageSealer } from './image-sealer';
import { SbxImageMapView } from './image-map-view';
import { SbxImageView } from './image-sbx-view';

/** What the user chooses at mount time (blkfs mount options). */
export interface ArchiveViewOptions {
  /** /sbx/image.sbx parameters; blkar's defaults when absent. */
  params?: SbxImageParams;
  /** --scan: acquire the whole medium in the background so /rescued/ finds every container. */
  scan?: boolean;
}

export interface ArchiveViewsDeps extends ArchiveViewOptions {
  /** The sector cache; the archive views' tables live in its database, named sbx_*. */
  cache: SectorCache;
  /** The server's acquisition runner (one acquisition at a time, shared with `blkfs acquire`). */
  acquisitions: AcquisitionJoiner;
  /** SOURCE as given to `blkfs mount`: the decoded image's default name comes from it (first mount only). */
  source: string;
  log: (message: string) => void;
}

export interface ArchiveViews {
  sbx: DirectoryView;
  rescued: DirectoryView;
  identity: ImageIdentity;
  /** For /status: what the archive views are doing. */
  status(): object;
  /** Stops the scanner (and a --scan acquisition); call before closing the cache. */
  close(): Promise<void>;
}

export function createArchiveViews(deps: ArchiveViewsDeps): ArchiveViews {
  const { cache, log } = deps;
  const database = cache.database();
  const params = deps.params ?? DEFAULT_IMAGE_PARAMS;
  const identity = loadOrCreateIdentity(database, () => ({ fnm: defaultImageName(deps.source) }));
  const sealer = new ImageSealer(cache, deps.acquisitions, new ImageSealStore(database), params.hash, log);

  const sbx = new StaticDirectory();
  try {
    sbx.add('image.sbx', new SbxImageView(cache, sealer, params, identity));
    sbx.add('image.map', new SbxImageMapView(cache, sealer, identity));
  } catch (err) {
    if (!(err instanceof FileTooLargeError)) throw err;
    log(`sbx: no /sbx/image.sbx: the medium (${cache.size} bytes) is larger than a version ${params.version} container can hold (${err.max} bytes)`);
  }

  const index = new BlockIndex(database);
  const scanner = new MediumScanner(cache, index, { log });
  scanner.start();
  const rescued = new RescuedDirectory(new RescuedContainers(index, cache), scanner);

  let scanRun: { detach: () => void } | undefined;
  if (deps.scan) {
    const { result, detach } = deps.acquisitions.join();
    scanRun = { detach };
    log('sbx: --scan: acquiring the whole medium in the background to find SBX containers');
    result.then(
      () => log('sbx: --scan: acquisition finished'),
      (err: unknown) => log(`sbx: --scan: acquisition stopped: ${err instanceof Error ? err.message : String(err)}`),
    ).finally(detach);
  }

  return {
    sbx,
    rescued,
    identity,
    status: () => ({ sbx: { image: sealer.activity() ?? null, scanner: scanner.progress(), containersFound: index.uids().length } }),
    close: async () => {
      scanRun?.detach();
      await scanner.stop();
    },
  };
}
