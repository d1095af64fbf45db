// Opt-in sequential readahead for the cache: stream detection, window planning and the prefetcher. A FUSE /raw
// reader with direct I/O sends one <= 128 KiB request at a time, so a cold sequential copy pays a full NBD round
// trip per request; prefetching the sectors just ahead of a detected sequential stream turns that into a few large
// pipelined reads. Off by default: on a fragile medium, reading what nobody asked for is a risk only the user may
// choose to take.
import { MediaError, SourceLostError } from '../source/block-source';
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
    this.streams.push({ endByte: end, frontier: 0, pausedUntil: 0, lastUsed: this.clock });
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

/** Largest window accepted: prefetched bytes are held in memory until committed, so the window is bounded. */
export const MAX_READAHEAD_BYTES = 32 * 1024 * 1024;

/** Device read size for a window: a quarter of it, within 256 KiB..1 MiB, never more than the window or maxRead. */
export function prefetchChunkBytes(windowBytes: number, maxReadBytes: number): number {
  const quarter = Math.min(1024 * 1024, Math.max(256 * 1024, Math.floor(windowBytes / 4)));
  return Math.min(quarter, windowBytes, maxReadBytes);
}

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
  private readonly chunkSectors: number;
  private readonly sectorSize: number;
  /** Bytes of prefetch device reads issued and not yet answered (memory bound, with uncommitted early answers). */
  private pending = 0;
  /** Prefetch flights whose device read may still be queued: a reader waiting on one promotes it to foreground. */
  private readonly tickets = new WeakMap<Flight, Promotable>();

  constructor(
    private readonly cache: ReadaheadContext,
    windowBytes: number,
    maxReadBytes: number,
  ) {
    this.sectorSize = cache.device.sectorSize;
    this.windowSectors = Math.ceil(windowBytes / this.sectorSize);
    this.chunkSectors = Math.max(1, Math.floor(prefetchChunkBytes(windowBytes, maxReadBytes) / this.sectorSize));
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
   * Keeps a sequential reader's window being fetched: spans of untried sectors that no read holds, from the stream's
   * frontier up to (reader's end + window), a chunk each. The window stops at the first sector that is not '?' or is
   * in flight (cached, bad, or another reader's): the reader's next requests look again from their own end. Memory
   * stays bounded: bytes being prefetched count with the readers' uncommitted early answers against one bound.
   */
  private pump(stream: ReadStream): void {
    const { store } = this.cache;
    if (this.cache.closing() || store.persistFailed) return;
    const readerEnd = Math.ceil(stream.endByte / this.sectorSize);
    if (readerEnd < stream.pausedUntil) return;
    const windowEnd = Math.min(this.cache.map.sectorCount, readerEnd + this.windowSectors);
    let from = Math.max(stream.frontier, readerEnd);
    for (;;) {
      const span = planSpan(from, windowEnd, this.chunkSectors, (s) => this.limit(s));
      if (!span) return;
      const bytes = Math.min(store.size, span[1] * this.sectorSize) - span[0] * this.sectorSize;
      if (!store.canAnswerEarly(bytes, this.pending)) return;
      stream.frontier = from = span[1];
      this.prefetch(stream, span[0], span[1], bytes).catch((e: unknown) => process.emitWarning(`readahead failed: ${(e as Error).message}`));
    }
  }

  /** First sector >= s that readahead must not read: s itself unless s is untried and not in flight. */
  private limit(s: number): number {
    const run = this.cache.map.runAt(s);
    if (run.status !== '?' || this.cache.inflight.covering(s)) return s;
    return Math.min(run.start + run.count, this.cache.inflight.nextStartAfter(s));
  }

  /**
   * One prefetch: untried sectors [start, end) read whole at background priority (a reader waiting for them
   * promotes the read; single flight makes any reader share it). Success takes the readers' early-answer path:
   * data file, bytes published to waiting readers, '+' only with the next group commit after fdatasync.
   * A failure marks NOTHING, as a failed read of acquire's copy pass marks no '-': the sectors stay '?' and the
   * stream prefetches nothing more until its reader has passed them, so the real reader narrows the failure itself
   * (exact '-' sectors, its own short read then EIO). So readahead never decides which sectors are '-', and costs
   * a bad area at most this one failed device read. A lost source marks nothing either.
   */
  private async prefetch(stream: ReadStream, start: number, end: number, bytes: number): Promise<void> {
    const { inflight, device, store } = this.cache;
    const handle = inflight.add(start, end);
    const ticket: Promotable = { promote: () => {} };
    this.tickets.set(handle.flight, ticket);
    this.pending += bytes;
    let data: Buffer | undefined;
    try {
      // Dropped unread when the cache began closing while the read waited for a device slot.
      data = await device.readSectors(start, end, 'background', { ticket, skip: () => this.cache.closing() });
    } catch (e) {
      if (!(e instanceof MediaError) && !(e instanceof SourceLostError)) {
        process.emitWarning(`readahead of sectors [${start}, ${end}) failed: ${(e as Error).message}`);
      }
      stream.pausedUntil = Math.max(stream.pausedUntil, end);
    } finally {
      this.pending -= bytes;
    }
    if (!data) {
      handle.release();
      return;
    }
    const outcomes: Outcome[] = [{ start, count: end - start, status: '+', data }];
    try {
      // Past the memory bound (or after a failed write), as a reader: hold the flight until committed.
      await store.settle(handle, outcomes, store.canAnswerEarly(bytes) ? data : undefined);
    } catch (e) {
      // Nobody waits for this read: flush()/close() report the failure; readers meet it in their own reads.
      store.noteUnseenFailure(e);
    }
  }
}
