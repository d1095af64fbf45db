// Gets the hash of the whole medium image for the metadata block of /sbx/image.sbx. If the medium still
// has untried sectors, it first runs (or joins) the ddrescue-style acquisition through the cache, so each
// sector is read once and in the cache's order; then it hashes the image of that exact state (bad sectors
// as zeros) from the cache and stores the hash with the state. Concurrent readers share one acquisition
// and one hashing per state.
import { Extent } from '../../cache/extent-map';
import { createHasher, HashType } from '../../sbx/format/multihash';
import type { SectorCache } from '../../cache/sector-cache';
import { mediumStateKey } from '../../cache/medium-state-key';
import { badRunsOf, ImageSealStore } from './image-seal-store';
import { isUndetermined, PinnedImage } from './pinned-image';
import { OperationError } from '../../errors';

/** The server's one acquisition at a time (src/server/acquisition-runner.ts AcquisitionRunner has this shape). */
export interface AcquisitionJoiner {
  join(): { result: Promise<unknown>; detach: () => void };
}

export interface SealerActivity {
  phase: 'acquiring' | 'hashing';
  bytesDone: number;
  bytesTotal: number;
  /** While acquiring: the device read rate, and the seconds left at that rate (null when it is not reading). */
  rateBytesPerSec?: number;
  etaSeconds?: number | null;
}

export class IncompleteMediumError extends OperationError {
  constructor(undecidedBytes: number) {
    super(
      `the image hash needs every sector tried, but ${undecidedBytes} bytes are still untried after the acquisition ` +
        '(was it cancelled, or the source lost?)',
    );
    this.name = 'IncompleteMediumError';
  }
}

const HASH_CHUNK = 4 << 20;
const LOG_INTERVAL_MS = 5000;
const FIRST_LOG_MS = 1000;

function undecidedBytes(extents: readonly Extent[], sectorSize: number): number {
  let n = 0;
  for (const r of extents) if (isUndetermined(r.status)) n += r.count;
  return n * sectorSize;
}

export class ImageSealer {
  private completing: Promise<readonly Extent[]> | undefined;
  private readonly hashing = new Map<string, Promise<Buffer>>();
  private current: SealerActivity | undefined;

  constructor(
    private readonly cache: SectorCache,
    private readonly acquisitions: AcquisitionJoiner,
    private readonly store: ImageSealStore,
    private readonly hashType: HashType,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** What the sealer is doing now, for /status. */
  activity(): SealerActivity | undefined {
    if (this.current?.phase === 'acquiring') {
      const left = undecidedBytes(this.cache.extents(), this.cache.sectorSize);
      this.current.bytesDone = Math.max(0, this.current.bytesTotal - left);
      const rate = this.cache.status().readRateBytesPerSec;
      this.current.rateBytesPerSec = rate;
      this.current.etaSeconds = rate > 0 ? Math.round(left / rate) : null;
    }
    return this.current && { ...this.current };
  }

  /** The stored hash for a complete state, if known (no I/O). */
  knownHash(pinned: PinnedImage): Buffer | undefined {
    if (!pinned.isComplete()) return undefined;
    return this.store.get(mediumStateKey(pinned.size, this.cache.sectorSize, pinned.extents()), this.hashType)?.digest;
  }

  /** A snapshot of the cache in which every sector has been tried, acquiring the rest first if needed. */
  completeState(): Promise<readonly Extent[]> {
    const now = this.cache.extents();
    if (undecidedBytes(now, this.cache.sectorSize) === 0) return Promise.resolve(now);
    this.completing ??= this.acquireRest().finally(() => (this.completing = undefined));
    return this.completing;
  }

  /** The hash of `pinned`'s image, completing its state first (acquisition) when it has undecided sectors. */
  async hashOf(pinned: PinnedImage): Promise<Buffer> {
    if (!pinned.isComplete()) pinned.completeFrom(await this.completeState());
    const extents = pinned.extents();
    const key = mediumStateKey(pinned.size, this.cache.sectorSize, extents);
    const stored = this.store.get(key, this.hashType);
    if (stored) return stored.digest;
    let running = this.hashing.get(key);
    if (!running) {
      running = this.hashImage(pinned, key, extents).finally(() => this.hashing.delete(key));
      this.hashing.set(key, running);
    }
    return running;
  }

  private async acquireRest(): Promise<readonly Extent[]> {
    const total = undecidedBytes(this.cache.extents(), this.cache.sectorSize);
    this.log(`sbx: the metadata of /sbx/image.sbx needs the hash of the whole medium: acquiring the ${total} untried bytes`);
    this.current = { phase: 'acquiring', bytesDone: 0, bytesTotal: total };
    const progress = () => {
      const a = this.activity();
      if (!a) return;
      const pct = a.bytesTotal > 0 ? Math.floor((100 * a.bytesDone) / a.bytesTotal) : 100;
      const eta = a.etaSeconds != null ? `, ETA ${a.etaSeconds} s` : '';
      this.log(`sbx: acquiring for the image hash: ${a.bytesDone} of ${a.bytesTotal} bytes tried (${pct}%), ${a.rateBytesPerSec ?? 0} bytes/s${eta}`);
    };
    // A first word soon (a user waiting on `cp image.sbx` looks at the log), then every LOG_INTERVAL_MS.
    const first = setTimeout(progress, FIRST_LOG_MS);
    const timer = setInterval(progress, LOG_INTERVAL_MS);
    const { result, detach } = this.acquisitions.join();
    try {
      await result;
    } finally {
      clearTimeout(first);
      clearInterval(timer);
      detach();
      this.current = undefined;
    }
    const after = this.cache.extents();
    const left = undecidedBytes(after, this.cache.sectorSize);
    if (left > 0) throw new IncompleteMediumError(left);
    this.log('sbx: acquisition for the image hash finished');
    return after;
  }

  private async hashImage(pinned: PinnedImage, key: string, extents: readonly Extent[]): Promise<Buffer> {
    const size = pinned.size;
    const started = Date.now();
    this.log(`sbx: hashing the ${size}-byte image (${this.hashType})`);
    const activity: SealerActivity = { phase: 'hashing', bytesDone: 0, bytesTotal: size };
    this.current = activity;
    let lastLog = started;
    try {
      const hasher = createHasher(this.hashType);
      // Read ahead one chunk while the previous one is hashed.
      let next = size > 0 ? pinned.read(0, Math.min(HASH_CHUNK, size)) : undefined;
      for (let pos = 0; pos < size; ) {
        const chunk = await next!;
        const after = pos + chunk.length;
        next = after < size ? pinned.read(after, Math.min(HASH_CHUNK, size - after)) : undefined;
        hasher.update(chunk);
        pos = after;
        activity.bytesDone = pos;
        if (Date.now() - lastLog > LOG_INTERVAL_MS) {
          lastLog = Date.now();
          this.log(`sbx: hashing the image: ${Math.floor((100 * pos) / size)}%`);
        }
      }
      const digest = hasher.digest();
      this.store.put({ stateKey: key, hashType: this.hashType, digest, badRuns: badRunsOf(extents), created: Math.floor(Date.now() / 1000) });
      this.log(`sbx: image hash ${digest.toString('hex')} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return digest;
    } finally {
      if (this.current === activity) this.current = undefined;
    }
  }
}
