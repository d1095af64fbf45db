// The file report of a mounted medium, kept current as reads land. The layout comes from The Sleuth Kit reading
// the mount's own /raw (a child process, awaited asynchronously: its reads are served by this very event loop),
// so the filesystem metadata goes through the cache like any reader's, each sector read once; where metadata
// sectors are bad, TSK gets EIO, lists less, and the report says which directory it could not read. Each time
// the report is asked for, the sector map snapshot is compared with the last one and only the entries whose
// runs touch a changed range are joined again. The server's event loop serves every read of the mount: the work over
// all entries (the join, a look, a summary) goes a batch per turn (turns.ts), never seconds at once for a large disk.
import type { Extent } from '../cache/extent-map';
import { changedRanges, extentsDamage } from './damage-source';
import { FileReport, FileReportJson, ReportSummary } from './file-report';
import { fileMatcher } from './glob';
import type { MediumLayout } from './layout';
import { anyRescued, ByteRanges, gapsOutsideFileData } from './layout-gaps';
import { readMediumLayout, TskStoppedError } from './tsk-loaddb';
import { mergeRanges } from '../cache/byte-ranges';

/** What the report needs of the sector cache (src/cache's SectorCache satisfies it). */
export interface FilesCache {
  readonly size: number;
  readonly sectorSize: number;
  extents(): readonly Extent[];
  read(offset: number, length: number, priority?: 'foreground' | 'background'): Promise<{ data: Buffer; errorAt?: number }>;
}

export type LayoutState = 'not read' | 'reading' | 'ready' | 'failed';

/** Bytes read per request by readFilesFirst (ddrescue's default cluster, as the copying pass). */
const CHUNK = 64 * 1024;
const CONCURRENCY = 4;
/** A re-read of the layout waits at least this long, and ten times as long as the last TSK run took (TSK's CPU bounded). */
const REREAD_MIN_DELAY_MS = 1000;

export class LiveFileReport {
  /** The TSK run reading the layout, or the last one that ended other than stopped; says whether it was stopped. */
  private layoutRun: Promise<'stopped' | 'ended'> | undefined;
  private state: LayoutState = 'not read';
  private failure: string | undefined;
  private report: FileReport | undefined;
  private seen: readonly Extent[] | undefined;
  /** Directories TSK could not read when it made the layout: once their bytes are in, it reads the layout again. */
  private unreadableAtLayout = new Set<string>();
  private rereading: Promise<void> | undefined;
  /**
   * When the last layout is incomplete (no filesystem, problems, unknown entries): the sectors unread or bad when TSK
   * ran, outside the files' data. Once any is read (a retry, a reader, the copying pass), TSK reads the layout again.
   */
  private missedAtLayout: ByteRanges = [];
  private rereadTimer: NodeJS.Timeout | undefined;
  private lastLayoutMs = 0;
  private stopper = new AbortController();
  /** The run stopLayoutRead() cut (the metadata phase over its budget): whoever waited for it reads the layout now. */
  private cutRun: Promise<'stopped' | 'ended'> | undefined;
  /** Looks going through the report in turns (current() leaves the report as it is meanwhile). */
  private looking = 0;

  constructor(
    private readonly cache: FilesCache,
    /** The mount's /raw: what TSK reads. */
    private readonly rawPath: string,
    private readonly log: (message: string) => void = () => {},
    private readonly readLayout: (image: string, signal: AbortSignal) => Promise<MediumLayout> = (image, signal) =>
      readMediumLayout(image, { skipYaffs2Probe: true, signal, batch: true }),
  ) {}

  /** Reads the layout once (TSK on /raw); later calls wait for the same run. Never rejects. */
  async ensureLayout(): Promise<void> {
    await this.layoutRunNow();
  }

  private layoutRunNow(): Promise<'stopped' | 'ended'> {
    this.layoutRun ??= (async () => {
      this.state = 'reading';
      const t0 = Date.now();
      try {
        await this.loadLayout();
        this.lastLayoutMs = Date.now() - t0;
        const layout = this.report!.layout;
        this.log(`file layout read by The Sleuth Kit in ${Date.now() - t0} ms: ${layout.filesystems.length} filesystem(s), ${layout.entries.length} entries`);
      } catch (err) {
        if (err instanceof TskStoppedError) {
          // Stopped for an unmount that may yet be refused (busy): the next look starts it again.
          this.state = 'not read';
          this.layoutRun = undefined;
          return 'stopped';
        }
        this.failure = err instanceof Error ? err.message : String(err);
        this.state = 'failed';
        this.lastLayoutMs = Date.now() - t0;
        this.missedAtLayout = gapsOutsideFileData(this.cache.extents(), this.cache.sectorSize, undefined);
        this.log(`file layout could not be read: ${this.failure}`);
      }
      return 'ended';
    })();
    return this.layoutRun;
  }

  /** Stops a TSK run still reading /raw and waits for it to exit (before an unmount: it would keep the mount busy). */
  async stopLayoutReader(): Promise<void> {
    clearTimeout(this.rereadTimer);
    this.rereadTimer = undefined;
    this.stopper.abort();
    this.stopper = new AbortController();
    await Promise.all([this.layoutRun, this.rereading]);
  }

  /**
   * Stops the layout read if it is still running (an acquisition's metadata phase over its budget) and waits for TSK
   * to exit; the layout is then 'not read' and the next look starts it again. False when it had ended already.
   */
  async stopLayoutRead(): Promise<boolean> {
    const run = this.layoutRun;
    if (this.state !== 'reading' || !run) return false;
    this.cutRun = run;
    this.stopper.abort();
    this.stopper = new AbortController();
    return (await run) === 'stopped';
  }

  private async loadLayout(): Promise<void> {
    const layout = await this.readLayout(this.rawPath, this.stopper.signal);
    const seen = this.cache.extents();
    const report = await FileReport.inTurns(layout, extentsDamage(seen, this.cache.sectorSize, this.cache.size));
    this.seen = seen;
    this.report = report;
    this.unreadableAtLayout = new Set(await report.unreadableDirectoriesInTurns());
    const sum = await report.summaryInTurns();
    const incomplete = layout.filesystems.length === 0 || layout.problems.length > 0 || sum.unknown > 0 || sum.unreadableDirectories > 0;
    this.missedAtLayout = incomplete ? gapsOutsideFileData(seen, this.cache.sectorSize, layout) : [];
    this.state = 'ready';
    this.failure = undefined;
  }

  /** Sectors TSK may have needed have been read since it ran: read the layout again, later, off any reader's path. */
  private checkMissed(now: readonly Extent[]): void {
    if (this.rereading || this.rereadTimer || this.missedAtLayout.length === 0) return;
    if (!anyRescued(this.missedAtLayout, now, this.cache.sectorSize)) return;
    this.missedAtLayout = [];
    this.rereadTimer = setTimeout(() => {
      this.rereadTimer = undefined;
      this.rereadLayout('sectors unread or bad when The Sleuth Kit read the file layout have been read since');
    }, Math.max(REREAD_MIN_DELAY_MS, 10 * this.lastLayoutMs));
    this.rereadTimer.unref();
  }

  /**
   * The report joined with the current sector map (undefined until the layout is read). While a look goes through
   * the report in turns it stays as that look began (the next one joins what landed meanwhile): else the look's
   * entries and summary would tell of different moments.
   */
  private current(): FileReport | undefined {
    const r = this.report;
    if (!r) {
      if (this.state === 'failed') this.checkMissed(this.cache.extents());
      return undefined;
    }
    const now = this.cache.extents();
    if (now !== this.seen && this.looking === 0) {
      const ranges = changedRanges(this.seen!, now, this.cache.sectorSize);
      r.update(ranges, extentsDamage(now, this.cache.sectorSize, this.cache.size));
      this.seen = now;
      if (this.unreadableAtLayout.size > 0 && !this.rereading) {
        const still = new Set(r.unreadableDirectories());
        if ([...this.unreadableAtLayout].some((d) => !still.has(d))) this.rereadLayout('a directory unreadable before has been rescued');
      }
      this.checkMissed(now);
    }
    return r;
  }

  /** Something TSK could not read is read now: read the layout again (the old one serves meanwhile). */
  private rereadLayout(why: string): void {
    if (this.rereading) return;
    this.log(`${why}: reading the file layout again`);
    const t0 = Date.now();
    this.rereading = this.loadLayout()
      .then(() => {
        this.lastLayoutMs = Date.now() - t0;
      })
      .catch((err: unknown) => {
        // The last layout stays. No loop of failing re-reads: another needs another sector read since this one.
        this.unreadableAtLayout.clear();
        this.missedAtLayout = gapsOutsideFileData(this.cache.extents(), this.cache.sectorSize, this.report?.layout);
        this.log(`file layout could not be read again: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => (this.rereading = undefined));
  }

  /**
   * The whole report, reading the layout first if needed. A look that waited for the metadata phase's run, and saw
   * it cut over its budget, reads the layout then, as a look after the cut does: it asked for the report. (A run
   * stopped for an unmount is not started again.)
   */
  async json(): Promise<FileReportJson> {
    const run = this.layoutRunNow();
    if ((await run) === 'stopped' && this.cutRun === run) await this.ensureLayout();
    return this.snapshotInTurns();
  }

  /** snapshot(), a batch of entries per event-loop turn. */
  async snapshotInTurns(): Promise<FileReportJson> {
    const r = this.current();
    if (!r) return this.snapshot();
    this.looking++;
    try {
      return await r.jsonInTurns();
    } finally {
      this.looking--;
    }
  }

  /** The report as it stands now, without starting anything. */
  snapshot(): FileReportJson {
    const r = this.current();
    if (r) return r.toJSON();
    const why = this.state === 'failed' ? `the file layout could not be read: ${this.failure}` : `the file layout is ${this.state}`;
    return { filesystems: [], problems: [why], summary: emptySummary(), entries: [], layoutError: why };
  }

  /**
   * For /status: the layout's state and, once known, how many filesystems TSK read (0: none it can read) and the
   * counts per verdict. Cheap; starts nothing.
   */
  status(): { files: { layout: LayoutState; filesystems?: number } & Partial<ReportSummary> } {
    const r = this.current();
    return { files: { layout: this.state, ...(r ? { filesystems: r.layout.filesystems.length, ...r.summary() } : {}) } };
  }

  /**
   * Rescue by file: reads the layout (the filesystem metadata, through /raw), then every sector of the files
   * matching `globs` not yet read, at background priority, before the caller starts the ordinary passes.
   * Returns the number of matching files.
   */
  async readFilesFirst(globs: readonly string[], signal?: AbortSignal): Promise<number> {
    await this.ensureLayout();
    const r = this.report;
    if (!r || globs.length === 0) return 0;
    const match = fileMatcher(globs);
    const runs: [number, number][] = [];
    let files = 0;
    for (const e of r.layout.entries) {
      if (e.kind !== 'file' || !match.matches(e.fs, e.path)) continue;
      files++;
      for (let i = 0; i < e.runs.length; i += 2) runs.push([e.runs[i], e.runs[i] + e.runs[i + 1]]);
    }
    await this.readRanges(mergeRanges(runs), signal);
    return files;
  }

  /** Reads the ranges chunk by chunk in order, a few chunks at once; past a bad sector, goes on after it. */
  private async readRanges(ranges: [number, number][], signal?: AbortSignal): Promise<void> {
    const ss = this.cache.sectorSize;
    const chunks: [number, number][] = [];
    for (const [s, e] of ranges) {
      const first = Math.floor(s / ss) * ss;
      for (let at = first; at < e; at += CHUNK) chunks.push([at, Math.min(e, at + CHUNK)]);
    }
    let next = 0;
    const worker = async () => {
      while (next < chunks.length && !signal?.aborted) {
        let [at, end] = chunks[next++];
        while (at < end && !signal?.aborted) {
          const got = await this.cache.read(at, end - at, 'background');
          if (got.errorAt === undefined) break;
          at = Math.floor(got.errorAt / ss) * ss + ss;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }
}

function emptySummary(): ReportSummary {
  return { files: 0, intact: 0, damaged: 0, incomplete: 0, unknown: 0, unreadableDirectories: 0, badBytesOutsideFiles: 0 };
}

const perCache = new WeakMap<FilesCache, LiveFileReport>();

/** The one live report of a mounted cache (its views, /status and acquire share it). */
export function liveFileReportFor(cache: FilesCache, mountpoint: string, log?: (message: string) => void): LiveFileReport {
  let r = perCache.get(cache);
  if (!r) perCache.set(cache, (r = new LiveFileReport(cache, `${mountpoint.replace(/\/+$/, '')}/raw`, log)));
  return r;
}
