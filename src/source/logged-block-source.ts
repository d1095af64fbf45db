// A BlockSource that reports what a rescuer wants in the log: every device error and every slow read, with
// offset, length, errno and duration (and, at debug level, every read). Passes everything else through.
import { BlockSource, MediaError, SourceEvent, SourceLostError, SourceStats, readInto } from './block-source';
import { constants } from 'os';

export interface ReadLogger {
  /** A read the medium failed, or the source was lost during. */
  error(message: string): void;
  /** A read that took longer than the slow-read threshold. */
  warn(message: string): void;
  debug(message: string): void;
  enabled(level: 'debug'): boolean;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

export class LoggedBlockSource implements BlockSource {
  readonly size: number;
  readonly identityHint;

  constructor(
    private readonly inner: BlockSource,
    private readonly log: ReadLogger,
    /** Reads slower than this many milliseconds are logged as warnings. */
    private readonly slowMs = 1000,
  ) {
    this.size = inner.size;
    this.identityHint = inner.identityHint;
  }

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  get sectorSizeChoice() {
    return this.inner.sectorSizeChoice;
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.logged(offset, length, () => this.inner.read(offset, length));
  }

  readInto(offset: number, target: Buffer): Promise<Buffer> {
    return this.logged(offset, target.length, () => readInto(this.inner, offset, target));
  }

  private async logged(offset: number, length: number, read: () => Promise<Buffer>): Promise<Buffer> {
    const t0 = performance.now();
    const ms = () => Math.round(performance.now() - t0);
    try {
      const buf = await read();
      const d = ms();
      if (d >= this.slowMs) this.log.warn(`slow read: offset ${offset} length ${length} took ${d} ms`);
      else if (this.log.enabled('debug')) this.log.debug(`read: offset ${offset} length ${length} ${d} ms`);
      return buf;
    } catch (err) {
      const d = ms();
      if (err instanceof MediaError) {
        this.log.error(`device error: offset ${offset} length ${length} errno ${err.errno} (${errnoName(err.errno)}) after ${d} ms`);
      } else if (err instanceof SourceLostError) {
        this.log.error(`source lost during read: offset ${offset} length ${length} after ${d} ms: ${err.message}`);
      } else {
        this.log.error(`read failed: offset ${offset} length ${length} after ${d} ms: ${err instanceof Error ? err.message : String(err)}`);
      }
      throw err;
    }
  }

  stats(): SourceStats {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  onEvent(listener: (event: SourceEvent) => void): () => void {
    return this.inner.onEvent ? this.inner.onEvent(listener) : () => {};
  }
}
