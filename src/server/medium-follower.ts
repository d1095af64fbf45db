// After the medium changed or went away: look at the drive every second, and identify whatever is in it against
// the cache's identity samples (medium-identity.ts) before anything is served or stored again.
// - the same medium: reads resume where they stopped (nothing it had is read again);
// - another medium, caches following the drive (no --cache): the server opens that medium's own cache;
// - another medium with an explicit --cache: refused (ENOMEDIUM) until the right one is back;
// - a medium none of whose identity samples can be read (a failing drive, a dirty disc): refused, and looked at
//   again with a growing pause (1 s doubling to a minute) until the drive changes, so a failing drive is not made
//   to retry the same unreadable sectors every second.
import { CachedDevice } from '../cache/cached-device';
import { identify, sectorsToCompare } from '../cache/medium-identity';
import { ChunkDamagedError } from '../cache/fixity';
import { SourceLostError } from '../source/block-source';
import { MediumSizeChangedError } from '../source/nbd/nbd-block-source';
import { GuardedSource, MediumChangedError, MediumWatchStatus } from '../source/medium-watch';
import { Log } from './log';

export interface FollowerStatus extends MediumWatchStatus {
  /** Re-identifications made since mount, and what they read from the device (the stated exception). */
  identifications: number;
  identitySectorsRead: number;
  identityBytesRead: number;
  /** Last verdict on a medium found in the drive. */
  lastVerdict?: string;
}

/** After a medium could not be identified: the first pause before looking at it again, and the longest. */
const FIRST_UNKNOWN_PAUSE_MS = 1000;
const MAX_UNKNOWN_PAUSE_MS = 60_000;
/** After the other medium could not be taken over: the first pause before trying again. */
const FIRST_TAKEOVER_PAUSE_MS = 5000;
/**
 * Caches following the drive: how often a program's read looks at the drive (a token costs ~50 µs on a block device,
 * ~3 µs on a file: too much for every read), so a swap is seen within 10 ms of reading instead of a second.
 */
const READER_LOOK_MS = 10;

export class MediumFollower {
  private timer?: NodeJS.Timeout;
  /** The identification under way: readers and the timer share it. */
  private running?: Promise<unknown>;
  /** Token of a medium already judged foreign: not read again until the drive changes. */
  private refusedToken: string | null = null;
  private identifications = 0;
  private sectorsRead = 0;
  private bytesRead = 0;
  private lastVerdict?: string;
  private handedOver = false;
  /** After the server failed to take the other medium over: no look before `at`; the pause grows with each failure. */
  private takeoverPause: { at: number; ms: number } | undefined;
  /** Token of a medium that could not be identified, and when it may be looked at again (a growing pause). */
  private unknown: { token: string | null; retryAt: number; pauseMs: number } | undefined;
  private lastReaderLook = 0;

  constructor(
    private readonly source: GuardedSource,
    private readonly cache: CachedDevice,
    private readonly opts: { follow: boolean; log: Log; onOtherMedium: () => void },
  ) {
    source.setIdentifier(() => this.tick());
    source.onMediumEvent((e) => opts.log.info(`medium: ${e.message}${e.state === 'present' ? '' : ' (reads answer ENOMEDIUM until it is identified)'}`));
    // Without --cache the cache is the medium's only while that medium is in the drive: once a change is seen (a read
    // looks at the drive if the last look is 10 ms old), even cached sectors wait for the verdict.
    if (opts.follow) cache.checkBeforeServing(() => this.beforeServing());
  }

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.tick(), intervalMs).unref();
  }

  /**
   * The server could not take over the other medium (its cache would not open): keep refusing, and look again after a
   * pause that grows with each failure (5 s doubling to a minute). An NBD server shows no change until it is asked
   * (a reconnect), so the pause, not a change of the drive, is what spaces the attempts.
   */
  resume(): void {
    this.handedOver = false;
    const ms = Math.min(MAX_UNKNOWN_PAUSE_MS, this.takeoverPause ? this.takeoverPause.ms * 2 : FIRST_TAKEOVER_PAUSE_MS);
    this.takeoverPause = { at: Date.now() + ms, ms };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  status(): FollowerStatus {
    return {
      ...this.source.status(),
      identifications: this.identifications,
      identitySectorsRead: this.sectorsRead,
      identityBytesRead: this.bytesRead,
      ...(this.lastVerdict ? { lastVerdict: this.lastVerdict } : {}),
    };
  }

  /**
   * One look at the drive: identifies the medium in it unless it was judged already. Resolves to what kept it from
   * being identified (a lost source), if anything; never rejects. Concurrent callers share one look.
   */
  tick(): Promise<unknown> {
    this.running ??= this.look().finally(() => (this.running = undefined));
    return this.running;
  }

  /** undefined while the medium served is known to be in the drive; else the identification, rejecting unless it is. */
  private beforeServing(): Promise<void> | undefined {
    const now = Date.now();
    if (this.source.current === 'present' && now - this.lastReaderLook >= READER_LOOK_MS) {
      this.lastReaderLook = now;
      this.source.poll();
    }
    if (this.source.current === 'present') return undefined;
    return this.tick().then((failure) => {
      if (this.source.current === 'present') return;
      // Not identified because the source itself is unreachable: say that (ENXIO), not "no medium".
      if (failure instanceof SourceLostError && !(failure instanceof MediumChangedError)) throw failure;
      throw new MediumChangedError(`no medium to read: ${this.source.status().message}`);
    });
  }

  /**
   * The cached copy of identity sample `s`, or undefined when there is none to trust: untried again by a repair, or
   * damaged (its checksum fails). That is damage in the cache, not another medium: the other samples decide.
   */
  private async cachedSample(s: number): Promise<Buffer | undefined> {
    const ss = this.cache.sectorSize;
    if (this.cache.statusAt(s) !== '+') return undefined;
    return this.cache.readCachedBytes(s * ss, Math.min(ss, this.cache.size - s * ss)).catch((e: unknown) => {
      if (e instanceof ChunkDamagedError) return undefined;
      throw e;
    });
  }

  /**
   * A cache made while no identity sample could be read is compared by the sectors it holds (never adopted unseen);
   * the ones read just before the change count too, so their commit is awaited (no device read is waited for).
   */
  private async sectorsToCompare(): Promise<number[]> {
    const c = this.cache;
    if (!c.identitySamples().some((s) => c.statusAt(s) === '+')) await c.commitPending().catch(() => undefined);
    return sectorsToCompare(c.identitySamples(), (s) => c.statusAt(s), c.extents(), c.sectorSize);
  }

  /**
   * Caches follow the drive and another medium is in it: from this verdict on, /raw is that medium, so this cache's
   * bytes are no longer served (its files answer ENOMEDIUM), not only once the other medium's cache is open. If it
   * cannot be opened, this cache stays retired until its own medium is identified in the drive again.
   */
  private handOver(reason: string): void {
    this.handedOver = true;
    this.cache.retire();
    this.opts.log.info(`medium: another medium is in the drive (${reason}): switching to its own cache`);
    this.opts.onOtherMedium();
  }

  /** `again`: looks left after one whose samples came through two connections (so a waiting reader is not failed). */
  private async look(again = 2): Promise<unknown> {
    if (this.handedOver || this.source.current === 'present') return undefined;
    if (this.takeoverPause && Date.now() < this.takeoverPause.at) return undefined;
    const token = this.source.mediumToken();
    if (token === null) {
      if (this.source.current !== 'absent') this.source.changed('no medium in the drive', 'absent');
      return undefined;
    }
    if (token === this.refusedToken) return undefined;
    if (this.unknown && this.unknown.token === token && Date.now() < this.unknown.retryAt) return undefined;
    try {
      const size = this.source.mediumSize();
      // The token once the first sample is answered (that read may reconnect): every later sample must come through
      // the same connection, or the verdict would mix two discs' sectors.
      let settled: string | null | undefined;
      const read = async (o: number, l: number) => {
        try {
          return await this.source.readForIdentity(o, l);
        } finally {
          settled ??= this.source.mediumToken();
        }
      };
      const verdict = await identify(
        { size, sectorSize: this.source.sectorSize, read },
        {
          size: this.cache.size,
          sectorSize: this.cache.sectorSize,
          samples: await this.sectorsToCompare(),
          bytesOf: (s) => this.cachedSample(s),
        },
      );
      this.identifications++;
      if (verdict.result !== 'unknown') {
        this.sectorsRead += verdict.sectors; // read whatever the verdict, and whether or not it is used
        this.bytesRead += verdict.bytes;
      }
      const after = this.source.mediumToken();
      if (after !== token && after?.replace(/#\d+$/, '') !== token.replace(/#\d+$/, '')) return; // the drive moved while we looked: look again
      if (settled !== undefined && after !== settled) return again > 0 ? this.look(again - 1) : undefined; // a reconnect between samples
      if (verdict.result === 'same') {
        this.lastVerdict = `same medium (${verdict.sectors} identity sectors compared)`;
        this.refusedToken = null;
        this.unknown = undefined;
        this.takeoverPause = undefined;
        this.cache.reinstate(); // retired when another medium was judged in the drive and not taken over
        this.source.accept(`the same medium is back in the drive: resuming (${verdict.sectors} identity sectors compared)`);
        return;
      }
      if (verdict.result === 'unknown') {
        const pauseMs = Math.min(MAX_UNKNOWN_PAUSE_MS, this.unknown?.token === after ? this.unknown.pauseMs * 2 : FIRST_UNKNOWN_PAUSE_MS);
        this.unknown = { token: after, retryAt: Date.now() + pauseMs, pauseMs };
        this.lastVerdict = `cannot identify the medium: ${verdict.reason}; looking again in ${pauseMs / 1000} s`;
        this.opts.log.info(`medium: ${this.lastVerdict} (reads answer ENOMEDIUM meanwhile)`);
        return;
      }
      this.unknown = undefined;
      this.lastVerdict = `another medium: ${verdict.reason}`;
      this.refusedToken = after;
      if (this.opts.follow) {
        this.handOver(verdict.reason);
      } else {
        this.source.changed(`another medium is in the drive (${verdict.reason}); cache ${this.cache.cacheDir} is kept for the one that was removed: refusing reads until it is back`, 'changed');
      }
    } catch (e) {
      if (e instanceof MediumSizeChangedError) {
        this.lastVerdict = `another medium: ${e.message}`;
        if (this.opts.follow && !this.handedOver) this.handOver(e.message);
        else if (!this.opts.follow) {
          this.source.changed(`another medium is in the drive (${e.message}); cache ${this.cache.cacheDir} is kept for the one that was removed: refusing reads until it is back`, 'changed');
        }
      } else if (!(e instanceof SourceLostError)) this.opts.log.error('medium identification failed', e);
      return e;
    }
    return undefined;
  }
}
