// Reading a failing medium (a device with bad sectors, or /raw of a blkfs mount) for a scan that must go on past
// the bad places: a read that fails with EIO is retried in smaller pieces down to one 512-byte unit, and the
// units that still fail are recorded as unreadable. Their bytes come back as zeros, which are for scanning only:
// a caller must never use a block that overlaps an unreadable range (overlapsUnreadable), so no zero is ever
// passed on as data.
import { RandomReader } from './reader';

/** The smallest sector size of any medium: the unit a failed read is narrowed down to. */
const UNIT = 512;
/** First retry size inside a failed read (fewer reads over a large good area next to one bad sector). */
const PIECE = 64 * 1024;

function isUnreadable(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'EIO';
}

export class SkippingReader implements RandomReader {
  /** Unreadable byte ranges [start, end), ascending and merged. */
  readonly unreadable: [number, number][] = [];

  constructor(
    private readonly inner: RandomReader,
    private readonly onUnreadable?: (start: number, end: number) => void,
  ) {}

  get size(): number {
    return this.inner.size;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    if (!this.overlapsUnreadable(offset, end)) {
      try {
        return await this.inner.read(offset, length);
      } catch (err) {
        if (!isUnreadable(err)) throw err;
      }
    }
    // Read around what is known to be unreadable (never ask the medium twice), then narrow the failures down.
    const out = Buffer.alloc(Math.max(0, end - offset));
    let p = offset;
    for (const [a, b] of [...this.unreadable, [end, end] as [number, number]]) {
      if (b <= p) continue;
      for (let q = p; q < Math.min(a, end); q += PIECE) await this.readPiece(out, offset, q, Math.min(a, end, q + PIECE));
      p = Math.max(p, b);
      if (p >= end) break;
    }
    return out;
  }

  /** Total unreadable bytes found so far. */
  get bytesUnreadable(): number {
    return this.unreadable.reduce((n, [a, b]) => n + b - a, 0);
  }

  /** True iff [start, end) shares a byte with an unreadable range. */
  overlapsUnreadable(start: number, end: number): boolean {
    return this.unreadable.some(([a, b]) => a < end && start < b);
  }

  private async readPiece(out: Buffer, base: number, start: number, end: number): Promise<void> {
    try {
      (await this.inner.read(start, end - start)).copy(out, start - base);
      return;
    } catch (err) {
      if (!isUnreadable(err)) throw err;
    }
    // Units aligned to the medium, so one bad 512-byte sector costs one unit.
    for (let u = start; u < end; u = Math.min(end, u - (u % UNIT) + UNIT)) {
      const uEnd = Math.min(end, u - (u % UNIT) + UNIT);
      try {
        (await this.inner.read(u, uEnd - u)).copy(out, u - base);
      } catch (err) {
        if (!isUnreadable(err)) throw err;
        this.record(u, uEnd);
      }
    }
  }

  private record(start: number, end: number): void {
    const last = this.unreadable[this.unreadable.length - 1];
    if (last && last[1] >= start && last[0] <= start) last[1] = Math.max(last[1], end);
    else if (!this.overlapsUnreadable(start, end)) {
      this.unreadable.push([start, end]);
      this.unreadable.sort((x, y) => x[0] - y[0]);
    }
    this.onUnreadable?.(start, end);
  }
}
