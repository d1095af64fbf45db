// /mapfile: the GNU ddrescue mapfile of the cache state, as of the moment it is opened (read-only, so
// ddrescue accepts it with -m and ddrescuelog with -t, and refuses it as its own rescue MAPFILE).
import type { SectorCache } from '../cache/sector-cache';
import { GeneratedFileView } from './generated-file-view';

export class MapfileView extends GeneratedFileView {
  constructor(cache: SectorCache) {
    super(() => cache.mapfileText(), {
      // The counters that change whenever the map or its status line does (not the read rate, which drifts).
      stateKey: () => {
        const s = cache.status();
        return [s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.deviceReads, s.phase, s.pass, s.currentPos].join();
      },
    });
  }
}
