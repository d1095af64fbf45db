// What the views need from the sector cache (src/cache/CachedDevice satisfies it structurally). Kept narrow so
// a view is tested against any implementation, and so the views do not depend on how the cache stores state.

export type ReadPriority = 'foreground' | 'background';

export interface RangeRead {
  /** The good prefix of the range, possibly shorter than asked. */
  data: Buffer;
  /** Byte offset of the first bad sector when the read stopped there. */
  errorAt?: number;
}

export interface RangeReader {
  readonly size: number;
  readonly sectorSize: number;
  read(offset: number, length: number, priority?: ReadPriority): Promise<RangeRead>;
}

export interface MapfileSource {
  /** The whole GNU ddrescue mapfile of the current state, from one consistent snapshot. */
  mapfileText(): string;
}

export interface StatusSource {
  /** Counters of the cache and the device (plain JSON-able values). */
  status(): object;
}
