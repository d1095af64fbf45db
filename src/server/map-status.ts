// What the mount's status and web page say about the map beyond the cache counters: bad areas, ETA, and the
// map pictures, all from one walk of the cache's extents (never per sector).
import type { Extent } from '../cache/extent-map';
import { ByteDomain, settledBytesIn } from '../cache/rescue-scope';
import { badAreasOf, bytesOfRuns, ByteExtent, renderMapPng, renderMapSvg, summarize } from '../map';

export interface MapStatusCache {
  readonly size: number;
  readonly sectorSize: number;
  extents(): readonly Extent[];
  status(): { bytesUntried: number; bytesNonTrimmed: number; bytesNonScraped: number; readRateBytesPerSec: number; currentPos: number };
}

export class MapStatus {
  /** domain: the running acquisition's (-i/-s), whose end the ETA is about; undefined: the whole medium. */
  constructor(
    private readonly cache: MapStatusCache,
    private readonly domain: () => ByteDomain | undefined = () => undefined,
  ) {}

  private bytes(): ByteExtent[] {
    return bytesOfRuns(this.cache.extents(), this.cache.sectorSize, this.cache.size);
  }

  /** For /status: bad areas and the time left at the current read rate (null when idle or done). */
  status(): { map: { badAreas: number; largestBadArea: number }; etaSeconds: number | null } {
    const s = summarize(this.bytes(), this.cache.size);
    const c = this.cache.status();
    const d = this.domain();
    const left = d ? d.end - d.start - settledBytesIn(this.cache.extents(), this.cache.sectorSize, d) : c.bytesUntried + c.bytesNonTrimmed + c.bytesNonScraped;
    const eta = left > 0 && c.readRateBytesPerSec > 0 ? Math.round(left / c.readRateBytesPerSec) : null;
    return { map: { badAreas: s.badAreas, largestBadArea: s.largestBadArea }, etaSeconds: eta };
  }

  badAreas(limit: number): { pos: number; size: number }[] {
    return badAreasOf(this.bytes(), limit);
  }

  png(): Buffer {
    return renderMapPng(this.bytes(), this.cache.size, { currentPos: this.cache.status().currentPos, granule: this.cache.sectorSize });
  }

  svg(): string {
    return renderMapSvg(this.bytes(), this.cache.size, { currentPos: this.cache.status().currentPos, granule: this.cache.sectorSize });
  }
}
