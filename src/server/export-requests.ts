// `blkfs export MOUNTPOINT` on the server side: exports run one after another, and each ends with its client. A
// client's Ctrl-C (its `cancel`) or its going away (killed: the connection drops) stops the export before its renames,
// its partial files removed: nobody is left waiting for an OUT replaced behind their back, and none is left as litter.
import { exportImage } from '../cache/import-export';
import { OperationError } from '../errors';
import type { ControlConnection } from './control-server';
import type { ControlRequest } from './control-protocol';
import type { Log } from './log';
import type { MediumStack } from './medium-stack';

type ExportRequest = Extract<ControlRequest, { cmd: 'export' }>;

export class ExportRequests {
  /** The exports under way, run one after another. */
  private exporting: Promise<unknown> | undefined;

  constructor(private readonly log: Log) {}

  async serve(req: ExportRequest, conn: ControlConnection, stack: MediumStack): Promise<void> {
    const stop = new AbortController();
    const cancel = (why: string) => {
      if (stop.signal.aborted) return;
      // The line a reader of the log (and the cancellation test) sees once the server knows.
      this.log.info(`export to ${req.image}: ${why}: stopping it, its partial files removed`);
      stop.abort(new OperationError(`export to ${req.image} cancelled (${why}): nothing was renamed into place`));
    };
    conn.onRequest((r) => r.cmd === 'cancel' && cancel('cancelled by its client'));
    let finished = false;
    void conn.closed.then(() => finished || cancel('its client went away'));
    // One at a time: every export of this process writes OUT.blkfs-partial.<this pid>, so two at once to one OUT
    // shared that file (one truncating the other's bytes, the second rename failing).
    const run = () => exportImage(stack.cache, req.image, req.mapfile, { replace: req.force === true, stop: stop.signal });
    const exporting = (this.exporting ?? Promise.resolve()).then(run, run);
    this.exporting = exporting.catch(() => undefined);
    try {
      const result = await exporting;
      stack.mapfile?.exported(result.mapfile, req.image); // a ddrescue started on this image gets its map from /mapfile
      if (result.damaged.length > 0) this.log.error(`export: damaged cache chunks left out of ${req.image} ('?' in ${req.mapfile}): ${JSON.stringify(result.damaged)}`);
      conn.send({ type: 'done', result });
    } catch (err) {
      if (err !== stop.signal.reason) throw err;
      conn.send({ type: 'error', message: (err as Error).message, exitCode: 2 }); // answered, not logged as a failure
    } finally {
      finished = true;
    }
  }
}
