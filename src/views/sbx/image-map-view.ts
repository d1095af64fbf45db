// /sbx/image.map: the GNU ddrescue mapfile that goes with /sbx/image.sbx — which sectors of the image in
// the container are data ('+') and which are zeros standing for unreadable sectors ('-'). The container
// needs a medium in which every sector has been tried, so opening the map completes the medium first, as
// the first read of the container's metadata does; both then describe the same state (as long as no retry
// recovers a sector in between). An archive keeps both files.
import type { Extent } from '../../cache/extent-map';
import { renderMapfile } from '../../cache/mapfile';
import type { SectorCache } from '../../cache/sector-cache';
import { uidToHex } from '../../sbx/format/header';
import { GeneratedFileView } from '../generated-file-view';
import { ImageIdentity } from './image-identity';
import { ImageSealer } from './image-sealer';

export class SbxImageMapView extends GeneratedFileView {
  constructor(cache: SectorCache, sealer: ImageSealer, identity: ImageIdentity) {
    let memo: { key: readonly Extent[]; text: string } | undefined;
    const render = (extents: readonly Extent[]): string => {
      if (memo?.key !== extents) {
        const text = renderMapfile(extents, cache.sectorSize, cache.size, {
          currentPos: 0,
          phase: '+',
          pass: 1,
          comments: [`blkfs /sbx/image.map: sectors of the image inside /sbx/image.sbx (UID ${uidToHex(identity.uid)}); '-' areas are zeros there`],
        });
        memo = { key: extents, text };
      }
      return memo.text;
    };
    super(async () => render(await sealer.completeState()), {
      // The true size (`tar` archives st_size bytes): the map of the complete medium, so on an incomplete medium a
      // stat waits for the acquisition an open would start (its progress is in /status and the mount log).
      idleSize: async () => Buffer.byteLength(render(await sealer.completeState())),
      mtime: () => new Date(identity.sdt * 1000),
    });
  }
}
