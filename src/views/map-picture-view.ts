// /map.png and /map.svg: the ddrescueview-style picture of the cache's map (src/map), one snapshot per open.
// Rendered from the run-length extents (never per sector): well under a second for 2 TB with 100k bad areas.
import type { SectorCache } from '../cache/sector-cache';
import { bytesOfRuns, renderMapPng, renderMapSvg } from '../map';
import { GeneratedFileView } from './generated-file-view';

export class MapPictureView extends GeneratedFileView {
  constructor(cache: SectorCache, format: 'png' | 'svg') {
    super(
      () => {
        const extents = bytesOfRuns(cache.extents(), cache.sectorSize, cache.size);
        const opts = { currentPos: cache.status().currentPos, granule: cache.sectorSize };
        return format === 'png' ? renderMapPng(extents, cache.size, opts) : renderMapSvg(extents, cache.size, opts);
      },
      {
        // The picture changes with the map and the read position, not with the read rate.
        stateKey: () => {
          const s = cache.status();
          return [s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.phase, s.pass, s.currentPos, cache.extents().length].join();
        },
      },
    );
  }
}
