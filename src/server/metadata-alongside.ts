// The filesystem metadata phase of a plain `blkfs acquire` (no --files): The Sleuth Kit reads /raw ALONGSIDE the
// copying pass, so the file report is there early in a rescue and the device never idles while TSK thinks. TSK's
// reads through /raw are foreground reads: they go ahead of the passes' background reads (priority-scheduler.ts),
// so the metadata still comes early, and a sector both want is read once (single flight). With --files the layout
// is needed before anything else is read: files-first.ts.
//
// The phase has a budget of TSK's device reads: the foreground ones (the passes' background reads are not counted,
// or they would spend it at once). TSK reads more than metadata at times: on FAT, tsk_loaddb's orphan-file search
// reads every unallocated cluster (the whole data area, in 64 KiB reads), and its CLI cannot turn that off. Where it
// runs ahead of the pass on a failing card or stick, that would be a whole-medium read in TSK's order, meeting bad
// areas without the copying pass's skipping (and defeating -n). So past the budget TSK is stopped. It is stopped
// too at the first failed device read, whoever made it: when the pass meets a bad area the medium is failing, and
// TSK must not go on reading it in its own order. The layout is then read again once every sector is tried (from the
// cache alone: MountServer.readLayoutIfAllTried), or when the file report is asked for.
import type { DeviceReadCounts } from '../cache/sector-cache';
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
  status(): { foregroundBytes: number; deviceFailedReads: number };
  watchDeviceReads(fn: (counts: DeviceReadCounts) => void): () => void;
}

export interface MetadataPhaseOptions {
  /** The acquisition reads every sector (no -n/-N): the layout is read again once it ends. */
  complete: boolean;
  /** Stops TSK (the acquisition failed); the client's cancel or leaving stops it too. */
  signal?: AbortSignal;
  /** Foreground device read bytes TSK may spend; default metadataBudget(cache.size). */
  budget?: number;
}

/** Resolves once TSK has read the layout, or has been stopped (over its budget, at a failed read, on a cancel). */
export async function readMetadataAlongside(report: LiveFileReport, cache: ReadCounting, conn: ControlConnection, opts: MetadataPhaseOptions): Promise<void> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  if (opts.signal?.aborted) abort();
  opts.signal?.addEventListener('abort', abort, { once: true });
  conn.onRequest((r) => r.cmd === 'cancel' && abort());
  void conn.closed.then(abort);
  // Said to the client: TSK gives no progress, and on a slow or damaged disc this phase can take minutes.
  conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata-alongside' });
  try {
    const cut = await layoutWithinBudget(report, cache, opts.budget ?? metadataBudget(cache.size), stop.signal);
    if (!cut) return;
    const later = opts.complete ? 'after the acquisition' : 'when it is asked for (blkfs files)';
    const note = `the filesystem metadata phase stopped after ${mib(cut.bytes)} MiB read for it: ${cut.why}; the file report is read ${later}`;
    conn.send({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata-alongside', note });
  } finally {
    opts.signal?.removeEventListener('abort', abort);
  }
}

/**
 * Reads the layout unless, meanwhile, foreground device reads (TSK's, and any other reader's) pass `budget` bytes or
 * any device read fails; then stops TSK, and says why. Stopped without a word when `signal` aborts.
 */
async function layoutWithinBudget(report: LiveFileReport, cache: ReadCounting, budget: number, signal: AbortSignal): Promise<{ bytes: number; why: string } | undefined> {
  const before = cache.status();
  let over: { bytes: number; why: string } | undefined;
  let overrun = () => {};
  const overrunSeen = new Promise<void>((resolve) => (overrun = resolve));
  signal.addEventListener('abort', () => overrun(), { once: true });
  if (signal.aborted) overrun();
  const unwatch = cache.watchDeviceReads((c) => {
    if (over) return;
    const bytes = c.foreground.bytes - before.foregroundBytes;
    if (c.all.failedReads > before.deviceFailedReads) {
      over = { bytes, why: 'a device read failed, so the medium has bad areas: the passes read around them, not The Sleuth Kit in its own order' };
    } else if (bytes > budget) over = { bytes, why: 'The Sleuth Kit was reading more than the metadata (on FAT: its orphan-file search, which reads every free cluster)' };
    if (over) overrun();
  });
  try {
    await Promise.race([report.ensureLayout(), overrunSeen]);
  } finally {
    unwatch();
  }
  // Over the budget (or cancelled) just as TSK ended: the layout is read, nothing to stop.
  if (!(over || signal.aborted) || !(await report.stopLayoutRead())) return undefined;
  return signal.aborted ? undefined : over;
}

function mib(bytes: number): string {
  return (bytes / MiB).toFixed(1);
}
