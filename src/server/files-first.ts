// Before the passes of `blkfs acquire --files GLOB`: the filesystem metadata (The Sleuth Kit reading /raw), then the
// sectors of the files asked for. In this order, and before the passes: the files are found through the layout,
// which is read whatever it costs (no budget). Plain `blkfs acquire` reads the metadata alongside the passes instead
// (metadata-alongside.ts).
import type { LiveFileReport } from '../files/live-report';
import type { ControlConnection } from './control-server';

/** Returns false when the client cancelled or left meanwhile (then it has had its answer). */
export async function readFilesFirst(report: LiveFileReport, globs: readonly string[], conn: ControlConnection): Promise<boolean> {
  const stop = new AbortController();
  conn.onRequest((r) => r.cmd === 'cancel' && stop.abort());
  void conn.closed.then(() => stop.abort());
  // Said to the client: TSK gives no progress, and on a slow or damaged disc this phase can take minutes.
  conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata' });
  await report.ensureLayout();
  if (!stop.signal.aborted) {
    conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'files' });
    await report.readFilesFirst(globs, stop.signal);
  }
  if (!stop.signal.aborted) return true;
  conn.send({ type: 'done', result: { cancelled: true } });
  return false;
}
