// Follows the cache and hashes the medium image as its contiguous prefix becomes settled ('+' or '-'), from the
// cache's own bytes: the checksums cost no read of the medium. Unreadable sectors count as zeros; if one of them
// is recovered later (mount --retries), the hashes start again from the cache. After a remount the hashes are
// taken from the cache database when the medium's state is the one they were made for, else recomputed from the
// cache the same way (hash states cannot be stored).
import { setImmediate as nextTurn } from 'timers/promises';
import type { Extent } from '../cache/extent-map';
import { ImageDigests, ImageDigestValues } from './image-digests';
import { checksumStateKey, ChecksumStore } from './checksum-store';

/** What the tracker needs from the sector cache (CachedDevice / SectorCache satisfy it). */
export interface SettledSource {
  readonly size: number;
  readonly sectorSize: number;
  extents(): readonly Extent[];
  /** Bytes of '+' sectors only (never the device). */
  readCachedBytes(offset: number, length: number): Promise<Buffer>;
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
  /** Present once complete. */
  digests?: ImageDigestValues;
}

const READ_CHUNK = 1 << 20;
const HASH_SLICE = 256 << 10;
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
  private digests = new ImageDigests();
  private hashedUpTo = 0;
  private bytesBad = 0;
  private badRuns: { start: number; count: number }[] = [];
  private result: ImageDigestValues | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly cache: SettledSource,
    private readonly log: (message: string) => void = () => {},
    private readonly store?: ChecksumStore,
  ) {}

  start(): this {
    this.unsubscribe = this.cache.onSectorsCached(() => this.wake?.());
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.loop;
  }

  state(): ChecksumState {
    const size = this.cache.size;
    return {
      size,
      bytesHashed: this.hashedUpTo,
      bytesBad: this.bytesBad,
      bytesMissing: size - this.hashedUpTo,
      complete: this.result !== undefined,
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
    this.digests = new ImageDigests();
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
    const saved = this.store.get(checksumStateKey(size, sectorSize, extents));
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
        try {
          await this.hashSpan(extents, this.hashedUpTo, Math.min(settled, this.hashedUpTo + READ_CHUNK));
        } catch (err) {
          if (this.stopped) return;
          this.log(`checksums: reading the cache failed (${err instanceof Error ? err.message : String(err)}); trying again`);
          await this.sleep(1000);
        }
        continue;
      }
      if (this.hashedUpTo === this.cache.size && !this.result) {
        this.result = this.digests.digest();
        const { size, sectorSize } = this.cache;
        this.store?.put(checksumStateKey(size, sectorSize, extents), { digests: this.result, bytesBad: this.bytesBad });
        this.log(`checksums: image complete, sha256 ${this.result.sha256}, ${this.bytesBad} bytes unreadable (hashed as zeros)`);
      }
      await this.sleep(POLL_MS);
    }
  }

  /** Hashes [from, to) of a settled stretch: '+' runs from the cache, '-' runs as zeros. */
  private async hashSpan(extents: readonly Extent[], from: number, to: number): Promise<void> {
    const ss = this.cache.sectorSize;
    let pos = from;
    for (const r of extents) {
      const runEnd = Math.min(to, (r.start + r.count) * ss);
      if (runEnd <= pos) continue;
      if (r.start * ss >= to) break;
      if (r.status === '+') {
        const bytes = await this.cache.readCachedBytes(pos, runEnd - pos);
        for (let o = 0; o < bytes.length; o += HASH_SLICE) {
          this.digests.update(bytes.subarray(o, Math.min(bytes.length, o + HASH_SLICE)));
          await nextTurn(); // keep the server's event loop free between slices
        }
      } else {
        this.digests.zeros(runEnd - pos);
        this.bytesBad += runEnd - pos;
        const s0 = Math.floor(pos / ss);
        this.badRuns.push({ start: s0, count: Math.ceil(runEnd / ss) - s0 });
      }
      pos = runEnd;
    }
    this.hashedUpTo = to;
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
