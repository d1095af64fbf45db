// An in-memory stand-in for CachedDevice with the parts the archive views use: sector states, reads that
// serve cached sectors and "read the device" (an image buffer with a set of bad sectors) for the rest,
// onSectorsCached, and an acquisition. Counts device reads per sector so tests can assert "at most once".
import { Extent, SectorMap } from '../../../src/cache/extent-map';
import { RangeRead } from '../../../src/views/device-cache';

export class MemoryCache {
  readonly sectorSize: number;
  readonly size: number;
  readonly map: SectorMap;
  /** Device reads per sector. */
  readonly deviceReads: Uint16Array;
  /** Sectors the "device" cannot read. */
  readonly bad = new Set<number>();
  acquisitions = 0;
  private listeners: ((offset: number, length: number) => void)[] = [];

  constructor(
    readonly image: Buffer,
    sectorSize = 512,
  ) {
    this.sectorSize = sectorSize;
    this.size = image.length;
    this.map = new SectorMap(Math.ceil(image.length / sectorSize));
    this.deviceReads = new Uint16Array(this.map.sectorCount);
  }

  extents(): readonly Extent[] {
    return this.map.extents();
  }

  onSectorsCached(listener: (offset: number, length: number) => void): () => void {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }

  /** Marks sectors cached without counting a device read (as `blkfs import` would). */
  seed(start: number, count: number): void {
    this.map.set(start, count, '+');
  }

  /** Reads sector by sector as the real cache would (cached: served; untried: device once; '-': stop). */
  async read(offset: number, length: number): Promise<RangeRead> {
    await new Promise((r) => setImmediate(r));
    const end = Math.min(this.size, offset + length);
    const ss = this.sectorSize;
    let pos = offset;
    while (pos < end) {
      const sector = Math.floor(pos / ss);
      const st = this.map.statusAt(sector);
      if (st === '-') return { data: this.image.subarray(offset, pos), errorAt: pos };
      if (st !== '+') {
        this.deviceReads[sector]++;
        if (this.bad.has(sector)) {
          this.map.set(sector, 1, '-');
          return { data: this.image.subarray(offset, pos), errorAt: sector * ss };
        }
        this.map.set(sector, 1, '+');
        for (const l of this.listeners) l(sector * ss, ss);
      }
      pos = Math.min(end, (sector + 1) * ss);
    }
    return { data: Buffer.from(this.image.subarray(offset, end)) };
  }

  /** Tries every untried sector once (the ddrescue strategy's outcome, without its order). */
  async acquire(): Promise<void> {
    this.acquisitions++;
    for (let s = 0; s < this.map.sectorCount; s++) {
      if (this.map.statusAt(s) === '?') await this.read(s * this.sectorSize, this.sectorSize);
    }
  }

  /** The AcquisitionRunner shape: one acquisition shared by everyone who joins while it runs. */
  readonly acquisitionRunner = {
    running: undefined as Promise<unknown> | undefined,
    join: () => {
      this.acquisitionRunner.running ??= this.acquire().finally(() => (this.acquisitionRunner.running = undefined));
      return { result: this.acquisitionRunner.running, detach: () => {} };
    },
  };

  /** The image as an archive copy shows it: bad (non-'+') sectors as zeros. */
  imageWithZeros(): Buffer {
    const out = Buffer.alloc(this.size);
    for (const r of this.map.extents()) {
      if (r.status !== '+') continue;
      const a = r.start * this.sectorSize;
      this.image.copy(out, a, a, Math.min(this.size, (r.start + r.count) * this.sectorSize));
    }
    return out;
  }
}
