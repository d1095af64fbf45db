// A BlockSource test double over a Buffer: configurable bad sectors, a lost-source switch, optional latency, and
// exact read accounting (per request and per sector) so tests can assert "each sector read at most once".
import { BlockSource, MediaError, SourceEvent, SourceLostError, SourceStats, TransientReadError } from '../../src/source/block-source';
import { xorshift32 } from './seeded-random';

export interface MemorySourceOptions {
  sectorSize?: number;
  /** Sector numbers that fail with EIO whenever a read touches them. */
  badSectors?: Iterable<number>;
  /** Milliseconds each read waits before answering (makes concurrency observable). */
  delayMs?: number;
  /** Report the first bad byte as MediaError.offset (as an NBD structured error with offset does). */
  reportErrorOffset?: boolean;
  /** Called before every read, e.g. to log reads to a file from a child process. */
  onRead?: (offset: number, length: number) => void;
}

export interface ReadRecord {
  offset: number;
  length: number;
  ok: boolean;
}

export class MemorySource implements BlockSource {
  readonly sectorSize: number;
  readonly size: number;
  readonly badSectors: Set<number>;
  readonly log: ReadRecord[] = [];
  /** While true, every read rejects with SourceLostError (nbdkit gone). */
  lost = false;
  /** While set (an errno name, e.g. 'ENOMEM'), every read rejects with TransientReadError (a server's passing failure). */
  transient: string | undefined;
  delayMs: number;
  private readonly perSector: Uint32Array;
  private readonly perSectorOk: Uint32Array;
  private s: SourceStats = { reads: 0, bytes: 0, failedReads: 0 };
  closed = false;

  constructor(
    readonly data: Buffer,
    private readonly opts: MemorySourceOptions = {},
  ) {
    this.sectorSize = opts.sectorSize ?? 512;
    this.size = data.length;
    this.badSectors = new Set(opts.badSectors ?? []);
    this.delayMs = opts.delayMs ?? 0;
    this.perSector = new Uint32Array(Math.ceil(this.size / this.sectorSize));
    this.perSectorOk = new Uint32Array(this.perSector.length);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.opts.onRead?.(offset, length);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    else await Promise.resolve();
    if (this.closed) throw new SourceLostError('source closed');
    if (this.lost) throw new SourceLostError('source lost (test)');
    if (this.transient) {
      this.log.push({ offset, length, ok: false });
      throw new TransientReadError(offset, length, this.transient, `server failed a read with ${this.transient} (test)`);
    }
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read [${offset}, ${offset + length}) outside a ${this.size}-byte source`);
    }
    const first = Math.floor(offset / this.sectorSize);
    const last = Math.ceil((offset + length) / this.sectorSize);
    let bad: number | undefined;
    for (let s = first; s < last; s++) {
      this.perSector[s]++;
      if (bad === undefined && this.badSectors.has(s)) bad = s;
    }
    if (bad !== undefined) {
      this.log.push({ offset, length, ok: false });
      this.s.failedReads++;
      const at = this.opts.reportErrorOffset ? Math.max(offset, bad * this.sectorSize) : offset;
      throw new MediaError(at, this.opts.reportErrorOffset ? this.sectorSize : length, 5);
    }
    this.log.push({ offset, length, ok: true });
    for (let s = first; s < last; s++) this.perSectorOk[s]++;
    this.s.reads++;
    this.s.bytes += length;
    return Buffer.from(this.data.subarray(offset, offset + length));
  }

  /** How many device reads touched this sector. */
  readsOfSector(sector: number): number {
    return this.perSector[sector];
  }

  /**
   * Largest number of successful reads (data delivered) of any one sector: rule 3 says 1. Good sectors inside a
   * failed multi-sector read are not counted there: that read delivered nothing.
   */
  maxReadsOfGoodSector(): number {
    let max = 0;
    for (let s = 0; s < this.perSectorOk.length; s++) max = Math.max(max, this.perSectorOk[s]);
    return max;
  }

  resetCounts(): void {
    this.perSector.fill(0);
    this.perSectorOk.fill(0);
    this.log.length = 0;
    this.s = { reads: 0, bytes: 0, failedReads: 0 };
  }

  stats(): SourceStats {
    return { ...this.s };
  }

  private readonly listeners = new Set<(event: SourceEvent) => void>();

  onEvent(listener: (event: SourceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Reports a lost/reconnected event, as the NBD source does when nbdkit goes away and comes back. */
  emit(event: SourceEvent): void {
    for (const l of this.listeners) l(event);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** Deterministic pseudo-random bytes (xorshift32), so a child process can rebuild the same medium. */
export function patternBuffer(size: number, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  const next = xorshift32(seed);
  for (let i = 0; i + 4 <= size; i += 4) buf.writeUInt32LE(next(), i);
  return buf;
}
