// The sector cache for views' unit tests: the production CachedDevice over a MemorySource (an image buffer with
// bad sectors and per-sector read counts), in a temporary directory. Its state starts all untried (no fingerprint
// window read), so a test decides which sectors are cached: by reading them (device reads), by seed() (no device
// read, as `blkfs import` stores sectors), or by acquisition (the real rescue passes, through the real
// AcquisitionRunner). Call closeMemoryCaches() after each test (afterEach) to close them and remove their files.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { STATE_FILE } from '../../src/cache/cache-dir';
import { openCache } from '../../src/cache/cache-open';
import { CachedDevice } from '../../src/cache/cached-device';
import { SectorMap } from '../../src/cache/extent-map';
import { StateStore } from '../../src/cache/state-store';
import { AcquisitionRunner } from '../../src/server/acquisition-runner';
import { MemorySource } from './memory-source';

export interface MemoryCacheOptions {
  sectorSize?: number;
  /** Sectors the "device" cannot read (MemorySource.badSectors: may be changed later). */
  badSectors?: Iterable<number>;
  retries?: number;
}

export interface MemoryCache {
  cache: CachedDevice;
  source: MemorySource;
  image: Buffer;
  /** One acquisition at a time, shared by everyone who joins (the mount server's runner). */
  acquisitions: AcquisitionRunner;
  /** Acquisitions started so far. */
  acquisitionsStarted(): number;
  /** Marks sectors cached with the image's bytes, without a device read (as `blkfs import` would). */
  seed(start: number, count: number): Promise<void>;
  /** Device reads per sector (failed reads included). */
  deviceReadsPerSector(): number[];
  /** The image as an archive copy shows it: non-'+' sectors as zeros. */
  imageWithZeros(): Buffer;
}

const open: { cache: CachedDevice; dir: string }[] = [];

const STABLE = 'memory-cache';

export async function memoryCache(image: Buffer, opts: MemoryCacheOptions = {}): Promise<MemoryCache> {
  const sectorSize = opts.sectorSize ?? 512;
  const source = new MemorySource(image, { sectorSize, badSectors: opts.badSectors });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-memory-cache-'));
  // An initialized state with nothing read: the production open path then loads it (stable identity: no probe).
  const state = StateStore.open(path.join(dir, STATE_FILE), dir);
  const sectorCount = Math.ceil(image.length / sectorSize);
  state.initialize({ size: image.length, sectorSize, fingerprint: STABLE, probeSectors: [], stableIdentity: STABLE }, new SectorMap(sectorCount));
  state.close();
  const cache = await openCache({ source, cacheDir: dir, stableIdentity: STABLE, retries: opts.retries });
  open.push({ cache, dir });
  let started = 0;
  const acquisitions = new AcquisitionRunner({
    acquire: (o) => {
      started++;
      return cache.acquire(o);
    },
  });
  return {
    cache,
    source,
    image,
    acquisitions,
    acquisitionsStarted: () => started,
    seed: (start, count) => cache.storeSectors(start, count, async () => Buffer.from(image.subarray(start * sectorSize, Math.min(image.length, (start + count) * sectorSize)))),
    deviceReadsPerSector: () => Array.from({ length: sectorCount }, (_, s) => source.readsOfSector(s)),
    imageWithZeros: () => {
      const out = Buffer.alloc(image.length);
      for (const r of cache.extents()) {
        if (r.status !== '+') continue;
        const a = r.start * sectorSize;
        image.copy(out, a, a, Math.min(image.length, (r.start + r.count) * sectorSize));
      }
      return out;
    },
  };
}

/** Closes every cache memoryCache() opened and removes its directory. */
export async function closeMemoryCaches(): Promise<void> {
  for (const { cache, dir } of open.splice(0)) {
    await cache.close().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
