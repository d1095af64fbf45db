// Opt-in sequential readahead for the cache: the arithmetic only (stream detection and window planning); the device
// reads themselves are CachedDevice's. A FUSE /raw reader with direct I/O sends one <= 128 KiB request at a time, so
// a cold sequential copy pays a full NBD round trip per request; prefetching the sectors just ahead of a detected
// sequential stream turns that into a few large pipelined reads. Off by default: on a fragile medium, reading what
// nobody asked for is a risk only the user may choose to take.

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
