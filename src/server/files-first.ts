// Before an acquisition's passes: the filesystem metadata (The Sleuth Kit reading /raw, so the file report is
// there early in a rescue), then the sectors of the files asked for (`blkfs acquire --files GLOB`).
//
// The metadata phase has a budget of device reads. TSK reads more than metadata at times: on FAT, tsk_loaddb's
// orphan-file search reads every unallocated cluster (the whole data area, in 64 KiB reads), and its CLI cannot turn
// that off. On a failing card or stick that would be a whole-medium read in TSK's order, meeting bad areas without
// the copying pass's skipping (and defeating -n). So past the budget, or at the first failed device read, TSK is
// stopped and the passes start at once; the layout is read again once every sector is tried (from the cache alone:
// MountServer.readLayoutIfAllTried), or when the file report is asked for.
import type { ReadCounts } from '../cache/device-reader';
import type { LiveFileReport } from '../files/live-report';
import type { ControlConnection } from './control-server';

const MiB = 1024 * 1024;

/**
 * max(32 MiB, 2% of the medium). Metadata is a small share of a volume: a FAT copy is at most 4 bytes per cluster of
 * at least 512 bytes (under 0.8%), ext4's inode tables 256 bytes per 16 KiB by default (1.6%), an NTFS MFT 1 KiB per
 * file; 32 MiB covers the whole metadata of small media (a floppy, a CD's ISO 9660 tree) and TSK's 64 KiB reads
 * around it. TSK's FAT orphan search reads the whole data area: far more, on any medium larger than ~32 MiB.
 */
export function metadataBudget(mediumSize: number): number {
  return Math.max(32 * MiB, Math.ceil(mediumSize * 0.02));
}

/** What the metadata phase needs of the cache: its size and the device read counts as they change. */
export interface ReadCounting {
  readonly size: number;
  status(): { deviceBytes: number; deviceFailedReads: number };
  watchDeviceReads(fn: (counts: Readonly<ReadCounts>) => void): () => void;
}

export interface FilesFirstOptions {
  /** The acquisition reads every sector (no -n/-N): the layout is read again once it ends. */
  complete: boolean;
}

/** Returns false when the client cancelled or left meanwhile (then it has had its answer). */
export async function readFilesFirst(
  report: LiveFileReport,
  cache: ReadCounting,
  globs: readonly string[] | undefined,
  conn: ControlConnection,
  opts: FilesFirstOptions,
): Promise<boolean> {
  const stop = new AbortController();
  conn.onRequest((r) => r.cmd === 'cancel' && stop.abort());
  void conn.closed.then(() => stop.abort());
  // Said to the client: TSK gives no progress, and on a slow or damaged disc this phase can take minutes.
  conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata' });
  if (globs?.length) {
    // The files asked for are found through the layout: it is read whatever it costs (no budget with --files).
    await report.ensureLayout();
  } else {
    const cut = await layoutWithinBudget(report, cache, metadataBudget(cache.size));
    if (cut) {
      const later = opts.complete ? 'after the acquisition' : 'when it is asked for (blkfs files)';
      const note = `the filesystem metadata phase stopped after ${mib(cut.bytes)} MiB: ${cut.why}; the file report is read ${later}`;
      conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata', note });
    }
  }
  if (globs?.length && !stop.signal.aborted) {
    conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'files' });
    await report.readFilesFirst(globs, stop.signal);
  }
  if (!stop.signal.aborted) return true;
  conn.send({ type: 'done', result: { cancelled: true } });
  return false;
}

/** Reads the layout unless the device reads meanwhile (any reader's) pass `budget` bytes or one fails; then stops TSK. */
async function layoutWithinBudget(report: LiveFileReport, cache: ReadCounting, budget: number): Promise<{ bytes: number; why: string } | undefined> {
  const before = cache.status();
  let over: { bytes: number; why: string } | undefined;
  let overrun = () => {};
  const overrunSeen = new Promise<void>((resolve) => (overrun = resolve));
  const unwatch = cache.watchDeviceReads((c) => {
    if (over) return;
    const bytes = c.bytes - before.deviceBytes;
    if (c.failedReads > before.deviceFailedReads) over = { bytes, why: 'The Sleuth Kit met a bad sector (the passes read around bad areas first)' };
    else if (bytes > budget) over = { bytes, why: 'The Sleuth Kit was reading more than the metadata (on FAT: its orphan-file search, which reads every free cluster)' };
    if (over) overrun();
  });
  try {
    await Promise.race([report.ensureLayout(), overrunSeen]);
  } finally {
    unwatch();
  }
  // Over the budget just as TSK ended: the layout is read, nothing to stop.
  if (!over || !(await report.stopLayoutRead())) return undefined;
  return over;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}
