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
      // Exact once the medium is complete; before that the map does not exist yet.
      idleSize: () => {
        const extents = cache.extents();
        const complete = extents.every((r) => r.status === '+' || r.status === '-');
        return complete ? Buffer.byteLength(render(extents)) : 0;
      },
      mtime: () => new Date(identity.sdt * 1000),
    });
  }
}
