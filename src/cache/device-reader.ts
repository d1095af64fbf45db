// Every read the cache makes from its source goes through here, so device reads are counted in one place: the
// reads of readers and acquisition (scheduled by priority; the foreground ones also counted apart), readahead's
// (also counted apart), and the identity probes made while opening (unscheduled: nothing else runs yet). It also
// follows the source's lost/reconnected events for /status.
import { BlockSource, MediaError, SourceEvent, TransientReadError, readInto } from '../source/block-source';
import { PriorityScheduler, Promotable } from './priority-scheduler';
import { RateMeter, RateNow } from './rate-meter';
import type { DeviceReadCounts, Priority, ReadCounts, SourceHealth } from './sector-cache';

/** A readahead read: promotable while queued, dropped unread when `skip` says so, into a buffer of its own. */
export interface Prefetch {
  ticket: Promotable;
  skip: () => boolean;
  into?: Buffer;
}

/** How long after its latest device read a medium counts as idle (readRate() 0). */
const IDLE_AFTER_MS = 1000;

export class DeviceReader {
  readonly size: number;
  readonly sectorSize: number;
  /** All device reads (successful reads and their bytes; reads failed with a media error). */
  readonly counts: ReadCounts = { reads: 0, bytes: 0, failedReads: 0 };
  /** Of those: readahead's. */
  readonly prefetchCounts: ReadCounts = { reads: 0, bytes: 0, failedReads: 0 };
  /** Of those: the foreground ones (a reader waiting; a readahead read a reader promoted stays readahead's). */
  readonly foregroundCounts: ReadCounts = { reads: 0, bytes: 0, failedReads: 0 };
  private readonly watched: DeviceReadCounts = { all: this.counts, foreground: this.foregroundCounts };
  /** Reads the server failed for a passing reason (TransientReadError: ENOMEM...): no verdict on the medium. */
  transientReads = 0;
  /** The last 10 s of device reads (readRate() is what a status shows). */
  readonly rate: RateMeter;
  /** The same right now (see rateNow()). */
  private readonly rateRightNow = new RateNow();
  /** Device reads started and not ended (those of the read rate), and when the latest of them ended. */
  private inFlight = 0;
  private lastEnded = -Infinity;
  /** Byte offset of the latest device read (the status line's position when no acquisition runs). */
  lastPos = 0;
  private readonly scheduler: PriorityScheduler;
  private readonly countWatchers = new Set<(counts: DeviceReadCounts) => void>();
  private readonly health: SourceHealth = { state: 'connected', lostEvents: 0, reconnects: 0 };
  private readonly unsubscribe: (() => void) | undefined;

  constructor(
    private readonly source: BlockSource,
    concurrency = 4,
    private readonly now: () => number = Date.now,
  ) {
    this.rate = new RateMeter(10_000, now);
    this.size = source.size;
    this.sectorSize = source.sectorSize;
    this.scheduler = new PriorityScheduler(concurrency);
    this.unsubscribe = source.onEvent?.((e) => this.noteEvent(e));
  }

  /**
   * Sectors [s, e) through the priority scheduler (a ticket lets a waiting reader promote a queued background read).
   * `skip` is asked when the read gets its device slot: true drops it unread (resolves undefined). `into`: a buffer at
   * least the read's length that the source fills (see BlockSource.readInto).
   */
  readSectors(s: number, e: number, priority: Priority): Promise<Buffer>;
  readSectors(s: number, e: number, priority: Priority, prefetch: Prefetch): Promise<Buffer | undefined>;
  readSectors(s: number, e: number, priority: Priority, prefetch?: Prefetch): Promise<Buffer | undefined> {
    const off = s * this.sectorSize;
    const len = Math.min(this.size, e * this.sectorSize) - off;
    if (!prefetch) return this.scheduler.run(priority, () => this.readBytes(off, len, this.countedApart(priority)), undefined, len);
    const into = prefetch.into?.subarray(0, len);
    const read = async () => (prefetch.skip() ? undefined : this.readBytes(off, len, this.prefetchCounts, true, into));
    return this.scheduler.run(priority, read, prefetch.ticket); // a prefetch dropped unread tells nothing of the device
  }

  /** readSectors() into `target` (exactly the sectors' bytes long); resolves with target. See BlockSource.readInto. */
  readSectorsInto(s: number, e: number, priority: Priority, target: Buffer): Promise<Buffer> {
    const off = s * this.sectorSize;
    const len = Math.min(this.size, e * this.sectorSize) - off;
    if (target.length !== len) throw new RangeError(`a ${target.length}-byte buffer for ${len} bytes`);
    return this.scheduler.run(priority, () => this.readBytes(off, len, this.countedApart(priority), true, target), undefined, len);
  }

  private countedApart(priority: Priority): ReadCounts | undefined {
    return priority === 'foreground' ? this.foregroundCounts : undefined;
  }

  /** Until the returned function is called, background reads take one device slot at most (priority-scheduler.ts). */
  narrowBackground(): () => void {
    return this.scheduler.narrowBackground();
  }

  /** An identity probe: bytes [off, off+len) straight from the source, counted, not part of the read rate. */
  probe(off: number, len: number): Promise<Buffer> {
    return this.readBytes(off, len, undefined, false);
  }

  private async readBytes(off: number, len: number, also?: ReadCounts, track = true, into?: Buffer): Promise<Buffer> {
    if (track) {
      this.lastPos = off;
      this.inFlight++;
    }
    try {
      const buf = into ? await readInto(this.source, off, into) : await this.source.read(off, len);
      if (buf.length !== len) throw new Error(`device returned ${buf.length} bytes for a ${len}-byte read at ${off}`);
      for (const c of also ? [this.counts, also] : [this.counts]) {
        c.reads++;
        c.bytes += len;
      }
      if (track) {
        this.rate.add(len);
        this.rateRightNow.add(len);
      }
      this.countsChanged();
      return buf;
    } catch (err) {
      if (err instanceof MediaError) {
        this.counts.failedReads++;
        if (also) also.failedReads++;
        this.countsChanged();
      } else if (err instanceof TransientReadError) this.transientReads++;
      throw err;
    } finally {
      if (track) {
        this.inFlight--;
        this.lastEnded = this.now();
      }
    }
  }

  /**
   * The device read rate for a status: the last 10 s's, while the device is being read; 0 once no read is in flight
   * and none ended within IDLE_AFTER_MS. The 10 s average went on for 10 s after the reading stopped, and an ETA
   * from it said work was under way when none was (a slow read in flight keeps the average: work is under way).
   */
  readRate(): number {
    if (this.inFlight === 0 && this.now() - this.lastEnded > IDLE_AFTER_MS) return 0;
    return this.rate.bytesPerSecond();
  }

  /** Bytes per second the device is being read at right now (RateNow: the last quarter second's or second's). */
  rateNow(): number {
    return this.rateRightNow.bytesPerSecond();
  }

  /** Calls `fn` with the counts after every device read counted (a budget of device reads); returns the unsubscriber. */
  watchCounts(fn: (counts: DeviceReadCounts) => void): () => void {
    this.countWatchers.add(fn);
    return () => this.countWatchers.delete(fn);
  }

  private countsChanged(): void {
    for (const fn of this.countWatchers) fn(this.watched);
  }

  sourceHealth(): SourceHealth {
    return { ...this.health };
  }

  /** Stops following the source's events (the source itself stays open: its owner closes it). */
  detach(): void {
    this.unsubscribe?.();
  }

  private noteEvent(e: SourceEvent): void {
    if (e.type === 'lost') {
      this.health.state = 'lost';
      this.health.lostEvents++;
    } else {
      this.health.state = 'connected';
      this.health.reconnects++;
    }
    this.health.lastEvent = e.message;
  }
}
