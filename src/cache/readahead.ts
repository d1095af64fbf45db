// Sequential readahead for the cache: stream detection, window planning and the prefetcher. A FUSE /raw reader with
// direct I/O sends one request (<= 1 MiB) at a time, so a cold sequential copy pays a full NBD round trip per
// request; prefetching the sectors just ahead of a detected sequential stream turns that into a few large reads.
// On by default in `blkfs mount` (DEFAULT_READAHEAD_BYTES) and made safe for fragile media:
//  - only a reader that continues where its previous read ended gets any (a random reader gets none);
//  - each stream has ONE prefetch read in flight, growing from 512 KiB to half the window (4 MiB at most) while
//    reads succeed: nothing is requested past a read whose outcome is not known yet (two in flight measured no
//    faster here: the cold path is bound by CPU, not by the NBD round trip);
//  - a failed prefetch (or one slower than SLOW_READ_MS) marks nothing and makes its region "troubled": no prefetch
//    starts within a window after it, nor within a window after any sector known to be bad ('-', '*', '/'), until
//    a reader has gone a window past it. So a bad area is never dragged, and readers narrow errors themselves.
// Memory: published bytes are held for readers up to the window plus two reads (HeldBytes.holdAtLeast), so a
// sequential reader copies them from memory; a prefetch waits while that much is still being written to the data
// file; read buffers are reused (a fresh multi-MiB buffer per read costs a full GC every few dozen MiB).
import { MediaError, SourceLostError, TransientReadError } from '../source/block-source';
import type { DeviceReader } from './device-reader';
import type { SectorMap } from './extent-map';
import type { Promotable } from './priority-scheduler';
import type { SectorStore } from './sector-store';
import type { Flight, InflightRanges } from './single-flight';
import type { Outcome } from './span-fetch';

/** One recent foreground reader (a stream once a read starts where its previous read ended). */
export interface ReadStream {
  /** Byte offset where its latest read ended. */
  endByte: number;
  /** Sector where its next prefetch starts (everything in [reader end, frontier) was prefetched or is in flight). */
  frontier: number;
  /** No prefetching until the reader's end passes this sector (a prefetch failed before it). */
  pausedUntil: number;
  lastUsed: number;
  /** Its prefetch read in flight, if any (one at a time). */
  busy: boolean;
  /** Sectors of its next prefetch read (grows while reads succeed). */
  chunk: number;
}

/** The most recent foreground reads, so that several concurrent sequential readers each qualify. */
export class StreamTable {
  private readonly streams: ReadStream[] = [];
  private clock = 0;

  constructor(private readonly capacity = 8) {}

  /**
   * Records a foreground read of bytes [offset, end). Returns its stream when the read continues one (starts exactly
   * where a recent read ended); otherwise remembers it as a possible stream start (evicting the least recently used).
   */
  note(offset: number, end: number): ReadStream | undefined {
    this.clock++;
    for (const s of this.streams) {
      if (s.endByte === offset) {
        s.endByte = end;
        s.lastUsed = this.clock;
        return s;
      }
    }
    if (this.streams.length >= this.capacity) {
      let oldest = 0;
      for (let i = 1; i < this.streams.length; i++) if (this.streams[i].lastUsed < this.streams[oldest].lastUsed) oldest = i;
      this.streams.splice(oldest, 1);
    }
    this.streams.push({ endByte: end, frontier: 0, pausedUntil: 0, lastUsed: this.clock, busy: false, chunk: 0 });
    return undefined;
  }

  get size(): number {
    return this.streams.length;
  }
}

/**
 * The next span [start, end) to prefetch at or after `from`, or undefined. `limitAt(s)` is the first sector >= s
 * that must not be prefetched (s itself when s is not untried or is in flight): the window stops there. A span is
 * at most `chunk` sectors and ends by `windowEnd`; a span cut short only by the window waits until a whole chunk
 * fits, so device reads stay large (the reader's next requests widen the window).
 */
export function planSpan(from: number, windowEnd: number, chunk: number, limitAt: (s: number) => number): [number, number] | undefined {
  if (from >= windowEnd) return undefined;
  const limit = limitAt(from);
  const end = Math.min(from + chunk, windowEnd, limit);
  if (end <= from) return undefined;
  if (end - from < chunk && end === windowEnd && limit > windowEnd) return undefined;
  return [from, end];
}

export { DEFAULT_READAHEAD_BYTES, MAX_READAHEAD_BYTES } from './readahead-limits';

/** A prefetch read slower than this (and slower than 1 MB/s) counts as trouble, like a failure. */
export const SLOW_READ_MS = 1000;

/** Largest prefetch read for a window: half of it, within 128 KiB..4 MiB (never more than the window). */
export function prefetchChunkBytes(windowBytes: number): number {
  return Math.min(windowBytes, Math.min(4 * 1024 * 1024, Math.max(128 * 1024, Math.floor(windowBytes / 2))));
}

/** A stream's first prefetch read: 512 KiB at most, then it doubles after each success. */
const FIRST_CHUNK_BYTES = 512 * 1024;

/** Troubled regions remembered (oldest forgotten first). */
const MAX_TROUBLE = 64;

/** What readahead needs of the cache: its state, its flights, its device and its store. */
export interface ReadaheadContext {
  readonly map: SectorMap;
  readonly inflight: InflightRanges;
  readonly device: DeviceReader;
  readonly store: SectorStore;
  /** The cache began closing: no new prefetch starts, queued ones are dropped. */
  closing(): boolean;
}

/**
 * The prefetcher: keeps each sequential reader's window being fetched, through the cache's flights and commits.
 * A failed prefetch marks NOTHING (see prefetch()).
 */
export class Readahead {
  private readonly streams = new StreamTable();
  private readonly windowSectors: number;
  private readonly maxChunkSectors: number;
  private readonly firstChunkSectors: number;
  private readonly sectorSize: number;
  /** Bytes of prefetch device reads issued and not yet answered (memory bound, with uncommitted early answers). */
  private pending = 0;
  /** Prefetch flights whose device read may still be queued: a reader waiting on one promotes it to foreground. */
  private readonly tickets = new WeakMap<Flight, Promotable>();
  /** Sector ranges [start, end) where a prefetch failed or was slow: no prefetch starts within a window after. */
  private readonly trouble: [number, number][] = [];
  /**
   * Free prefetch buffers (maxChunk bytes each). A new multi-MiB buffer per read makes V8 run a full GC every few
   * dozen MiB (external memory pressure), which a streaming reader feels; reused ones cost nothing. A buffer comes
   * back only when nothing can see it any more: written, and no longer published by its flight.
   */
  private readonly spare: Buffer[] = [];
  private readonly maxSpare: number;

  constructor(
    private readonly cache: ReadaheadContext,
    windowBytes: number,
  ) {
    this.sectorSize = cache.device.sectorSize;
    this.windowSectors = Math.ceil(windowBytes / this.sectorSize);
    this.maxChunkSectors = Math.max(1, Math.floor(prefetchChunkBytes(windowBytes) / this.sectorSize));
    this.firstChunkSectors = Math.max(1, Math.min(this.maxChunkSectors, Math.floor(FIRST_CHUNK_BYTES / this.sectorSize)));
    // The reader consumes a window plus the read in flight from memory; older flights it has passed.
    cache.store.held.holdAtLeast(windowBytes + 2 * this.maxChunkSectors * this.sectorSize);
    this.maxSpare = Math.ceil(windowBytes / (this.maxChunkSectors * this.sectorSize)) + 2;
  }

  /** suspend() calls not yet resumed: no prefetch starts meanwhile. */
  private suspended = 0;

  /** No new prefetch until the returned function is called (once). */
  suspend(): () => void {
    this.suspended++;
    let resumed = false;
    return () => {
      if (!resumed) this.suspended--;
      resumed = true;
    };
  }

  /** A foreground read of bytes [offset, end) starts: if it continues a stream, prefetch ahead of it. */
  noteRead(offset: number, end: number): void {
    const stream = this.streams.note(offset, end);
    // After this call's own first device read is queued (it runs synchronously up to there): it goes first.
    if (stream) queueMicrotask(() => this.pumpSafely(stream));
  }

  /** A reader waits for `flight`: if it is a queued prefetch, it goes to the foreground queue. */
  promote(flight: Flight): void {
    this.tickets.get(flight)?.promote();
  }

  /** pump() off any reader's path: a bug in it must not take the mount down (readers go on without it). */
  private pumpSafely(stream: ReadStream): void {
    try {
      this.pump(stream);
    } catch (e) {
      process.emitWarning(`readahead stopped: ${(e as Error).message}`);
    }
  }

  /**
   * Starts the stream's next prefetch unless one is in flight: untried sectors that no read holds, from the
   * stream's frontier, within (reader's end + window). Cached sectors at the start are stepped over (pastCached); a
   * span ends before the next sector that is not '?' or is in flight, and the next pump looks again from there. Nothing starts in a troubled region (near a failed read or a sector known bad).
   * Memory stays bounded: bytes being prefetched count with the readers' uncommitted early answers against one bound.
   */
  private pump(stream: ReadStream): void {
    const { store } = this.cache;
    if (stream.busy || this.suspended > 0 || this.cache.closing() || store.persistFailed || store.syncFailure) return;
    const readerEnd = Math.ceil(stream.endByte / this.sectorSize);
    if (readerEnd < stream.pausedUntil) return;
    const windowEnd = Math.min(this.cache.map.sectorCount, readerEnd + this.windowSectors);
    const from = this.pastCached(Math.max(stream.frontier, readerEnd), windowEnd);
    if (stream.chunk === 0) stream.chunk = this.firstChunkSectors;
    const span = planSpan(from, windowEnd, stream.chunk, (s) => this.limit(s));
    if (!span || this.troubled(span[0], span[1])) return;
    const bytes = Math.min(store.size, span[1] * this.sectorSize) - span[0] * this.sectorSize;
    if (!store.canAnswerEarly(bytes, this.pending) || !store.held.canPublish(bytes + this.pending)) return;
    stream.frontier = span[1];
    stream.busy = true;
    this.prefetch(stream, span[0], span[1], bytes).catch((e: unknown) => process.emitWarning(`readahead failed: ${(e as Error).message}`));
  }

  /** The stream's prefetch read is over: after a timely success the next one may start (larger), while this one is written. */
  private readDone(stream: ReadStream, goOn: boolean): void {
    stream.busy = false;
    if (!goOn) return;
    stream.chunk = Math.min(this.maxChunkSectors, stream.chunk * 2);
    this.pumpSafely(stream);
  }

  /**
   * The first sector >= s (below `end`) that is not cached. A cached island in an untried stretch (an identity
   * sample, metadata TSK read) is stepped over: stopping there would let the reader drain the whole window and then
   * wait for a cold device read of its own, at every island (identity samples lie every 1/32 of the medium). A
   * flight is not stepped over (its outcome is not known yet: nothing is read past it), nor a sector known bad.
   */
  private pastCached(s: number, end: number): number {
    while (s < end && !this.cache.inflight.covering(s)) {
      const run = this.cache.map.runAt(s);
      if (run.status !== '+') return s;
      s = run.start + run.count;
    }
    return s;
  }

  /** First sector >= s that readahead must not read: s itself unless s is untried and not in flight. */
  private limit(s: number): number {
    const run = this.cache.map.runAt(s);
    if (run.status !== '?' || this.cache.inflight.covering(s)) return s;
    return Math.min(run.start + run.count, this.cache.inflight.nextStartAfter(s));
  }

  /** A prefetch of [s, e) would be near trouble: a failed or slow prefetch, or a sector known bad, within a window before e. */
  private troubled(s: number, e: number): boolean {
    const from = Math.max(0, s - this.windowSectors);
    for (const [a, b] of this.trouble) if (a < e && b + this.windowSectors > from) return true;
    for (const r of this.cache.map.runs(from, e - from)) if (r.status === '-' || r.status === '*' || r.status === '/') return true;
    return false;
  }

  private noteTrouble(start: number, end: number): void {
    if (this.trouble.length >= MAX_TROUBLE) this.trouble.shift();
    this.trouble.push([start, end]);
  }

  /**
   * One prefetch: untried sectors [start, end) read whole at background priority (a reader waiting for them
   * promotes the read; single flight makes any reader share it). Success takes the readers' early-answer path:
   * data file, bytes published to waiting readers, '+' only with the next group commit after fdatasync.
   * A failure marks NOTHING, as a failed read of acquire's copy pass marks no '-': the sectors stay '?', the region
   * becomes troubled and the stream prefetches nothing more until its reader has passed them, so the real reader
   * narrows the failure itself (exact '-' sectors, its own short read then EIO). So readahead never decides which
   * sectors are '-', and costs a bad area at most this one failed device read. A lost source marks nothing either.
   * The stream's next prefetch may start as soon as this device read succeeded in good time (see readDone()).
   */
  private async prefetch(stream: ReadStream, start: number, end: number, bytes: number): Promise<void> {
    const { inflight, device, store } = this.cache;
    const handle = inflight.add(start, end);
    const ticket: Promotable = { promote: () => {} };
    this.tickets.set(handle.flight, ticket);
    this.pending += bytes;
    const into = this.spare.pop() ?? Buffer.allocUnsafe(this.maxChunkSectors * this.sectorSize);
    let data: Buffer | undefined;
    let slow = false;
    try {
      let began = 0;
      // Dropped unread when the cache began closing while the read waited for a device slot.
      data = await device.readSectors(start, end, 'background', {
        ticket,
        into,
        skip: () => {
          began = performance.now();
          return this.cache.closing();
        },
      });
      const ms = performance.now() - began;
      slow = ms > SLOW_READ_MS && bytes / ms < 1000; // bytes per ms: 1000 is 1 MB/s
    } catch (e) {
      if (!(e instanceof MediaError) && !(e instanceof SourceLostError) && !(e instanceof TransientReadError)) {
        process.emitWarning(`readahead of sectors [${start}, ${end}) failed: ${(e as Error).message}`);
      }
      stream.pausedUntil = Math.max(stream.pausedUntil, end);
      this.noteTrouble(start, end);
    } finally {
      this.pending -= bytes;
    }
    if (!data) {
      // A failed read's buffer is not reused: nothing depends on when a failing source stops writing into it.
      handle.release();
      this.readDone(stream, false);
      return;
    }
    if (slow) this.noteTrouble(start, end);
    this.readDone(stream, !slow);
    const outcomes: Outcome[] = [{ start, count: end - start, status: '+', data }];
    try {
      // Past the memory bound (or after a failed write), as a reader: hold the flight until committed.
      await store.settle(handle, outcomes, store.canAnswerEarly(bytes) ? data : undefined);
      this.pumpSafely(stream); // written: room for the next one if writes held it back
    } catch (e) {
      // Nobody waits for this read: flush()/close() report the failure; readers meet it in their own reads.
      store.noteUnseenFailure(e);
    }
    // Written (or failed to be) and committed or handed to the commit with its checksum taken: once the flight
    // stops publishing the bytes, no reader can see this buffer any more.
    await handle.unpublished;
    if (this.spare.length < this.maxSpare) this.spare.push(into);
  }
}
