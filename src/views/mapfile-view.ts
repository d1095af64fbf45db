// /mapfile: the GNU ddrescue mapfile of the cache state, as of the moment it is opened (read-only, so
// ddrescue accepts it with -m and ddrescuelog with -t, and refuses it as its own rescue MAPFILE).
import { MapfileSource } from './device-cache';
import { TextSnapshotView } from './text-snapshot-view';

/** The counters that change whenever the map or its status line does (not the read rate, which drifts). */
export interface MapStateCounters {
  status(): {
    bytesCached: number;
    bytesBad: number;
    bytesUntried: number;
    bytesNonTrimmed: number;
    bytesNonScraped: number;
    deviceReads: number;
    phase: string;
    pass: number;
    currentPos: number;
  };
}

export class MapfileView extends TextSnapshotView {
  constructor(cache: MapfileSource & MapStateCounters) {
    super(
      () => cache.mapfileText(),
      () => {
        const s = cache.status();
        return [s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.deviceReads, s.phase, s.pass, s.currentPos].join();
      },
    );
  }
}
