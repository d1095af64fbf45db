// Follows the cache and hashes the medium image as its contiguous prefix becomes settled ('+' or '-'), from the
// cache's own bytes: the checksums cost no read of the medium. Unreadable sectors count as zeros; if one of them
// is recovered later (mount --retries), the hashes start again from the cache. After a remount the hashes are
// taken from the cache database when the medium's state is the one they were made for, else recomputed from the
// cache the same way (hash states cannot be stored).
//
// The hashing runs in a worker thread (image-hasher.ts): the mount server's event loop only reads the cache into
// the hasher's buffers, so an acquisition or a cold reader never waits for MD5 and SHA. The tracker may trail the
// acquisition by the few MiB in flight, or, while a medium faster than the hashing is read on a machine of few cores,
// by all it has read since (src/cache/background-yield.ts); it is "incomplete" until its digests are in.
import type { Extent } from '../cache/extent-map';
import type { ImageDigestValues } from './image-digests';
import { HasherFailedError, ImageHasher, MainThreadHasher, startImageHasher } from './image-hasher';
import { mediumStateKey } from '../cache/medium-state-key';
import { ChecksumStore } from './checksum-store';

/** What the tracker needs from the sector cache (CachedDevice / SectorCache satisfy it). */
export interface SettledSource {
  readonly size: number;
  readonly sectorSize: number;
  extents(): readonly Extent[];
  /** Bytes of '+' sectors only (never the device), into target[0, length). */
  readCachedInto(offset: number, length: number, target: Buffer): Promise<void>;
  onSectorsCached(listener: (offset: number, length: number) => void): () => void;
}

export interface ChecksumState {
  size: number;
  /** Bytes of the image hashed so far (a prefix). */
  bytesHashed: number;
  /** Of those, bytes of unreadable sectors hashed as zeros. */
  bytesBad: number;
  /** Bytes not hashed yet: "incomplete" until 0. */
  bytesMissing: number;
  complete: boolean;
  /** The hashing waits for a fast reading of the medium to pause or slow (src/cache/background-yield.ts). */
  waiting: boolean;
  /** Present once complete. */
  digests?: ImageDigestValues;
}

/** Largest stretch of the settled prefix hashed before the tracker looks at the map again. */
const SPAN_BYTES = 16 << 20;
/** A worker that failed this often is not started again: the tracker hashes on its own thread. */
const WORKER_FAILURES_TO_FALL_BACK = 2;
/** While the hashing waits for a fast reading to pause: how often it looks again. */
const YIELD_POLL_MS = 100;
/** '-' sectors do not fire onSectorsCached: look at the map this often anyway. */
const POLL_MS = 400;

/** Bytes from 0 up to the first sector whose outcome is not known yet ('?', '*', '/'). */
export function settledPrefixBytes(extents: readonly Extent[], sectorSize: number, size: number): number {
  for (const r of extents) if (r.status !== '+' && r.status !== '-') return Math.min(size, r.start * sectorSize);
  return size;
}

/** True when every sector of `runs` is still '-' in `extents` (both sorted by start). */
export function stillBad(extents: readonly Extent[], runs: readonly { start: number; count: number }[]): boolean {
  let i = 0;
  for (const r of runs) {
    while (i < extents.length && extents[i].start + extents[i].count <= r.start) i++;
    for (let j = i; j < extents.length && extents[j].start < r.start + r.count; j++) if (extents[j].status !== '-') return false;
  }
  return true;
}

export class ChecksumTracker {
  /** Started on the first bytes to hash (a remount with stored checksums needs none). */
  private hasher: ImageHasher | undefined;
  private workerFailures = 0;
  private hashedUpTo = 0;
  private bytesBad = 0;
  private badRuns: { start: number; count: number }[] = [];
  private result: ImageDigestValues | undefined;
  private stopped = false;
  private waiting = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly cache: SettledSource,
    private readonly log: (message: string) => void = () => {},
    private readonly store?: ChecksumStore,
    private readonly startHasher: () => ImageHasher = startImageHasher,
    /** True while the hashing should wait (src/cache/background-yield.ts: a fast medium is being read). */
    private readonly mustWait: () => boolean = () => false,
  ) {}

  start(): this {
    this.unsubscribe = this.cache.onSectorsCached(() => this.wake?.());
    this.loop = this.run();
    return this;
  }

  /** Ends the tracker and its worker thread. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
    await this.hasher?.close();
    this.hasher = undefined;
  }

  state(): ChecksumState {
    const size = this.cache.size;
    return {
      size,
      bytesHashed: this.hashedUpTo,
      bytesBad: this.bytesBad,
      bytesMissing: size - this.hashedUpTo,
      complete: this.result !== undefined,
      waiting: this.waiting,
      ...(this.result ? { digests: { ...this.result } } : {}),
    };
  }

  /** Resolves when the checksums are complete (or the tracker stops: then with undefined). */
  async whenComplete(): Promise<ImageDigestValues | undefined> {
    while (!this.result && !this.stopped) await new Promise((r) => setTimeout(r, 100));
    return this.result;
  }

  private restart(): void {
    this.log('checksums: an unreadable sector was recovered since it was hashed as zeros: hashing the image again from the cache');
    this.startOver();
  }

  private startOver(): void {
    this.hasher?.reset();
    this.hashedUpTo = 0;
    this.bytesBad = 0;
    this.badRuns = [];
    this.result = undefined;
  }

  /** A settled medium whose checksums are stored: nothing to hash. */
  private restore(): void {
    const extents = this.cache.extents();
    const { size, sectorSize } = this.cache;
    if (!this.store || settledPrefixBytes(extents, sectorSize, size) < size) return;
    const saved = this.store.get(mediumStateKey(size, sectorSize, extents));
    if (!saved) return;
    this.hashedUpTo = size;
    this.bytesBad = saved.bytesBad;
    this.badRuns = extents.filter((r) => r.status === '-').map((r) => ({ start: r.start, count: r.count }));
    this.result = saved.digests;
  }

  private async run(): Promise<void> {
    this.restore();
    let checked: readonly Extent[] | undefined;
    while (!this.stopped) {
      const extents = this.cache.extents();
      if (extents !== checked) {
        checked = extents;
        if (this.badRuns.length > 0 && !stillBad(extents, this.badRuns)) this.restart();
      }
      const settled = settledPrefixBytes(extents, this.cache.sectorSize, this.cache.size);
      if (this.hashedUpTo < settled) {
        this.waiting = this.mustWait();
        if (this.waiting) {
          await new Promise((resolve) => setTimeout(resolve, YIELD_POLL_MS).unref());
          continue;
        }
        try {
          await this.hashSpan(extents, this.hashedUpTo, Math.min(settled, this.hashedUpTo + SPAN_BYTES));
        } catch (err) {
          if (this.stopped) return;
          await this.recover(err);
        }
        continue;
      }
      if (this.hashedUpTo === this.cache.size && !this.result) {
        let digests: ImageDigestValues;
        try {
          digests = await this.hashing().digest();
        } catch (err) {
          if (this.stopped) return;
          await this.recover(err);
          continue;
        }
        this.result = digests;
        const { size, sectorSize } = this.cache;
        this.store?.put(mediumStateKey(size, sectorSize, extents), { digests: this.result, bytesBad: this.bytesBad });
        this.log(`checksums: image complete, sha256 ${this.result.sha256}, ${this.bytesBad} bytes unreadable (hashed as zeros)`);
      }
      await this.sleep(POLL_MS);
    }
  }

  /** The hasher, started when first needed. */
  private hashing(): ImageHasher {
    this.hasher ??= this.workerFailures >= WORKER_FAILURES_TO_FALL_BACK ? new MainThreadHasher() : this.startHasher();
    return this.hasher;
  }

  /**
   * After a failure: a failed hasher lost what it was fed, so a new one hashes the image again from the start
   * (never a digest of a partial feed); a failed read of the cache is tried again a little later.
   */
  private async recover(err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof HasherFailedError) {
      this.workerFailures++;
      const fallback = this.workerFailures >= WORKER_FAILURES_TO_FALL_BACK ? ' on the server thread' : '';
      this.log(`checksums: ${message}; hashing the image again from the cache${fallback}`);
      const failed = this.hasher;
      this.hasher = undefined;
      await failed?.close();
      this.startOver();
      return;
    }
    this.log(`checksums: reading the cache failed (${message}); trying again`);
    await this.sleep(1000);
  }

  /**
   * Hashes [from, to) of a settled stretch: '+' runs from the cache, '-' runs as zeros. `hashedUpTo` follows each
   * piece handed to the hasher, so a failed read resumes exactly where the hashing stopped.
   */
  private async hashSpan(extents: readonly Extent[], from: number, to: number): Promise<void> {
    const ss = this.cache.sectorSize;
    const hasher = this.hashing();
    let pos = from;
    for (const r of extents) {
      const runEnd = Math.min(to, (r.start + r.count) * ss);
      if (runEnd <= pos) continue;
      if (r.start * ss >= to) break;
      if (r.status === '+') {
        while (pos < runEnd && !this.stopped) {
          const buffer = await hasher.take();
          const n = Math.min(buffer.length, runEnd - pos);
          try {
            await this.cache.readCachedInto(pos, n, buffer);
          } catch (err) {
            hasher.giveBack(buffer);
            throw err;
          }
          await hasher.feed(buffer, n);
          pos += n;
          this.hashedUpTo = pos;
        }
        if (pos < runEnd) return; // stopped
      } else {
        await hasher.zeros(runEnd - pos);
        this.bytesBad += runEnd - pos;
        const s0 = Math.floor(pos / ss);
        this.badRuns.push({ start: s0, count: Math.ceil(runEnd / ss) - s0 });
        pos = runEnd;
        this.hashedUpTo = pos;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      const self = this;
      function done() {
        clearTimeout(t);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}
