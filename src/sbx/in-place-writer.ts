// Writes into an existing container (repair, update), where nothing can be kept aside: a stop signal (Ctrl-C,
// SIGTERM, SIGHUP) must not split a unit that belongs together (every metadata copy of an update, a rebuilt block).
// The unit under way is finished and synced, one line says what was done, and the process ends of that signal.
import { promises as fsp } from 'fs';
import { Interrupted } from '../errors';
import { catchStopSignals } from '../stop-signals';
import { syncStored, writeFully } from './file-io';

export interface BlockWrite {
  pos: number;
  block: Uint8Array;
}

export class InPlaceWriter {
  /** Opened for the first write: a run with nothing to write (or refused first) needs no write access. */
  private handle: Promise<fsp.FileHandle> | null = null;
  private underWay: Promise<unknown> = Promise.resolve();
  /** Blocks written so far (each whole). */
  blocksWritten = 0;

  constructor(
    private readonly path: string,
    private readonly stop: AbortSignal,
  ) {}

  /** Writes every block of one unit: none once a stop signal came, all of them once begun (a signal notwithstanding). */
  writeUnit(blocks: readonly BlockWrite[]): Promise<void> {
    if (this.stop.aborted) return Promise.reject(this.stop.reason);
    const unit = (async () => {
      const handle = await (this.handle ??= fsp.open(this.path, 'r+'));
      for (const { pos, block } of blocks) {
        await writeFully(handle, block, pos);
        this.blocksWritten++;
      }
    })();
    this.underWay = unit.catch(() => undefined);
    return unit;
  }

  /** Waits for the unit under way, then makes what was written durable and closes the file. */
  async finish(): Promise<void> {
    await this.underWay;
    const handle = await this.handle?.catch(() => null);
    if (!handle) return;
    this.handle = null;
    try {
      await syncStored(handle);
    } finally {
      await handle.close();
    }
  }
}

/**
 * Runs `work` with a writer on `path`, catching the stop signals. One that comes stops `work` at once (a read may wait
 * on a stalled medium); the unit being written is finished and synced, and the run ends with Interrupted, its message
 * completed by `whatWasDone(blocks written)`. A dry run (no writer) has nothing to protect: a signal ends it as usual.
 */
export async function withInPlaceWriter<T>(
  path: string,
  dryRun: boolean,
  work: (writer: InPlaceWriter | null) => Promise<T>,
  whatWasDone: (blocksWritten: number) => string,
): Promise<T> {
  if (dryRun) return work(null);
  const stop = catchStopSignals();
  const writer = new InPlaceWriter(path, stop.signal);
  try {
    const result = await stop.race(work(writer));
    await writer.finish();
    return result;
  } catch (err) {
    const ending = stop.endingError(err);
    await writer.finish().catch((e: unknown) => {
      if (ending instanceof Interrupted) throw e; // what was written may not be durable: that failure is the news
    });
    if (ending instanceof Interrupted) ending.message += `; ${whatWasDone(writer.blocksWritten)}`;
    throw ending;
  } finally {
    stop.release();
  }
}
