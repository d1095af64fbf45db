// A BlockSource that reports what a rescuer wants in the log: every device error and every slow read, with
// offset, length, errno and duration (and, at debug level, every read). A server failing reads for a passing
// reason (TransientReadError) is told once when it starts and once when reads work again, not per read.
// Passes everything else through.
import { BlockSource, MediaError, SourceEvent, SourceLostError, SourceStats, TransientReadError, readInto } from './block-source';
import { constants } from 'os';

export interface ReadLogger {
  /** A read the medium failed, or the source was lost during. */
  error(message: string): void;
  /** A read that took longer than the slow-read threshold. */
  warn(message: string): void;
  debug(message: string): void;
  enabled(level: 'debug'): boolean;
}

/** The longest pause between two "still pending" lines for one read. */
const MAX_PENDING_REMINDER_MS = 5 * 60_000;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

export class LoggedBlockSource implements BlockSource {
  readonly size: number;
  readonly identityHint;
  /** Reads failed with a TransientReadError since the last successful read (the first one was logged). */
  private transientRun = 0;

  constructor(
    private readonly inner: BlockSource,
    private readonly log: ReadLogger,
    /** Reads slower than this many milliseconds are logged as warnings. */
    private readonly slowMs = 1000,
    /** A read still unanswered after this long is logged while it waits (then after twice as long, ...). */
    private readonly pendingMs = 10 * slowMs,
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
    // A read a struggling drive never answers is otherwise silent (it is waited for, not timed out: a failing drive
    // may take minutes per read): the log says it is still pending, less and less often.
    let wait = this.pendingMs;
    let reminder: NodeJS.Timeout | undefined;
    const remind = () => {
      reminder = setTimeout(() => {
        this.log.warn(`read still pending: offset ${offset} length ${length}, waiting for the medium for ${ms()} ms`);
        wait = Math.min(2 * wait, MAX_PENDING_REMINDER_MS);
        remind();
      }, wait);
      reminder.unref();
    };
    remind();
    try {
      const buf = await read();
      const d = ms();
      if (this.transientRun > 0) {
        this.log.warn(`reads work again after ${this.transientRun} failed for a passing reason (their sectors stay untried and are read when asked)`);
        this.transientRun = 0;
      }
      if (d >= this.slowMs) this.log.warn(`slow read: offset ${offset} length ${length} took ${d} ms`);
      else if (this.log.enabled('debug')) this.log.debug(`read: offset ${offset} length ${length} ${d} ms`);
      return buf;
    } catch (err) {
      const d = ms();
      if (err instanceof MediaError) {
        this.log.error(`device error: offset ${offset} length ${length} errno ${err.errno} (${errnoName(err.errno)}) after ${d} ms`);
      } else if (err instanceof TransientReadError) {
        if (this.transientRun++ === 0) {
          this.log.error(`${err.message} after ${d} ms: not a bad sector, nothing is recorded; the sectors stay untried and are read again when asked (further such failures are counted, not logged, until a read succeeds)`);
        } else if (this.log.enabled('debug')) this.log.debug(`read failed again (${err.errnoName}): offset ${offset} length ${length} after ${d} ms`);
      } else if (err instanceof SourceLostError) {
        this.log.error(`source lost during read: offset ${offset} length ${length} after ${d} ms: ${err.message}`);
      } else {
        this.log.error(`read failed: offset ${offset} length ${length} after ${d} ms: ${err instanceof Error ? err.message : String(err)}`);
      }
      throw err;
    } finally {
      clearTimeout(reminder);
    }
  }

  stats(): SourceStats {
    return this.inner.stats();
  }

  hangUpStalled(olderThanMs: number): boolean {
    return this.inner.hangUpStalled?.(olderThanMs) ?? false;
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  onEvent(listener: (event: SourceEvent) => void): () => void {
    return this.inner.onEvent ? this.inner.onEvent(listener) : () => {};
  }
}
