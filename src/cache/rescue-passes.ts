// The rescue passes: acquisition with GNU ddrescue's strategy, through the cache at background priority (a user's reads go first):
//   1. copying: forward in aligned chunks; a failed chunk becomes '*' and the pass skips ahead (doubling the skip
//      after each failure, back to one chunk after a success), so a bad zone costs few slow reads; pass 2 then
//      copies what pass 1 skipped (ddrescue goes backwards there; we stay forwards);
//   2. trimming: each '*' block is read sector by sector from its start until a failure ('-'), then from its end
//      backwards until a failure ('-'); what lies between becomes '/';
//   3. scraping: every '/' sector is read on its own ('+' or '-');
//   4. retrying (only with retries > 0): each '-' sector is re-read once per pass, up to `retries` passes in all.
// Everything lives in the state store, so an interrupted acquisition resumes where it stood.

import type { Extent, SectorStatus } from './extent-map';
import type { MapfilePhase } from './mapfile';
import type { CacheStatus, Priority } from './sector-cache';
import type { Progress } from './sector-store';
import type { FetchMode, Outcome } from './span-fetch';

/** What the passes need of the cache (CachedDevice): its state, its flights, and fetching a span. */
export interface RescueTarget {
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly retries: number;
  fetch(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Outcome[]>;
  mark(start: number, count: number, status: SectorStatus, from: SectorStatus): Promise<void>;
  statusAt(sector: number): SectorStatus;
  runAt(sector: number): Extent;
  nextWithStatus(from: number, status: SectorStatus): number | undefined;
  triesAt(sector: number): number;
  waitForFlight(sector: number): Promise<boolean>;
  nextFlightAfter(sector: number): number;
  setProgress(phase: MapfilePhase, pass: number, currentPos: number): void;
  savedProgress(): Progress | undefined;
  status(): CacheStatus;
}

export interface RescueProgress {
  phase: MapfilePhase;
  pass: number;
  currentPos: number;
  /** Bytes whose fate is known ('+' or '-'), of bytesTotal. */
  bytesDone: number;
  bytesTotal: number;
  bytesCached: number;
  bytesBad: number;
  rateBytesPerSec: number;
}

export interface RescueOptions {
  onProgress?: (p: RescueProgress) => void;
  signal?: AbortSignal;
  /** Copying-pass chunk (ddrescue's cluster), default 64 KiB. */
  chunkBytes?: number;
  /** Chunks read at once during copying (keeps the NBD pipe busy), default 4. */
  concurrency?: number;
}

export interface RescueResult extends CacheStatus {
  /** True when stopped by the signal before the end; run again to resume. */
  aborted: boolean;
}

const TRIM_SECTORS = 64;

export async function runRescuePasses(dev: RescueTarget, opts: RescueOptions): Promise<RescueResult> {
  const ss = dev.sectorSize;
  const n = dev.sectorCount;
  const chunk = Math.max(1, Math.floor((opts.chunkBytes ?? 64 * 1024) / ss));
  const maxSkip = Math.max(chunk, Math.floor(Math.min(1 << 30, dev.size / 100) / ss));
  const stopped = () => opts.signal?.aborted === true;
  const report = (phase: MapfilePhase, pass: number, sector: number) => {
    dev.setProgress(phase, pass, Math.min(dev.size, sector * ss));
    if (!opts.onProgress) return;
    const st = dev.status();
    opts.onProgress({
      phase,
      pass,
      currentPos: st.currentPos,
      bytesDone: st.bytesCached + st.bytesBad,
      bytesTotal: st.size,
      bytesCached: st.bytesCached,
      bytesBad: st.bytesBad,
      rateBytesPerSec: st.readRateBytesPerSec,
    });
  };

  /** First sector >= from in `status` that no other read holds (waits for such reads to finish). */
  const nextFree = async (from: number, status: SectorStatus): Promise<number | undefined> => {
    for (;;) {
      const s = dev.nextWithStatus(from, status);
      if (s === undefined) return undefined;
      if (!(await dev.waitForFlight(s))) return s;
    }
  };
  /** End of the span starting at s that has s's status, no flight inside, and at most max sectors. */
  const spanEnd = (s: number, max: number) => {
    const r = dev.runAt(s);
    return Math.min(r.start + r.count, dev.nextFlightAfter(s), s + max);
  };

  // 1. copying
  const saved = dev.savedProgress();
  const resumeAt = saved?.phase === '?' && saved.pass === 1 ? Math.floor(saved.currentPos / ss) : 0;
  const copyPass = async (pass: number, from: number, skipping: boolean) => {
    let cursor = from;
    let skip = chunk;
    let failure: unknown;
    const worker = async () => {
      while (!stopped() && failure === undefined) {
        const s = await nextFree(cursor, '?');
        if (s === undefined || failure !== undefined) return;
        if (dev.statusAt(s) !== '?' || dev.nextFlightAfter(s - 1) === s) continue; // taken while we waited
        const alignedEnd = (Math.floor(s / chunk) + 1) * chunk;
        const e = Math.min(spanEnd(s, chunk), alignedEnd);
        cursor = e;
        report('?', pass, s);
        try {
          const outcomes = await dev.fetch(s, e, '?', 'copy', 'background');
          if (skipping && outcomes.some((o) => o.status !== '+')) {
            cursor = Math.max(cursor, e + skip);
            skip = Math.min(skip * 2, maxSkip);
          } else if (outcomes.every((o) => o.status === '+')) {
            skip = chunk;
          }
        } catch (err) {
          failure ??= err;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
    if (failure !== undefined) throw failure;
  };
  await copyPass(1, resumeAt, true);
  if (!stopped() && dev.nextWithStatus(0, '?') !== undefined) await copyPass(2, 0, false);

  // 2. trimming
  let cursor = 0;
  while (!stopped()) {
    const a = await nextFree(cursor, '*');
    if (a === undefined) break;
    report('*', 1, a);
    const lead = await dev.fetch(a, spanEnd(a, TRIM_SECTORS), '*', 'forward', 'background');
    const leftBad = lead.find((o) => o.status === '-');
    cursor = a;
    if (!leftBad) continue;
    const p = leftBad.start + 1;
    cursor = p;
    // trailing edge of the non-trimmed area that follows the leading bad sector
    while (!stopped() && p < n && dev.statusAt(p) === '*' && !(await dev.waitForFlight(p))) {
      const q = spanEnd(p, Infinity);
      const s = Math.max(p, q - TRIM_SECTORS);
      if (dev.nextFlightAfter(s - 1) === s) break;
      report('*', 1, q);
      const trail = await dev.fetch(s, q, '*', 'backward', 'background');
      const rightBad = trail.find((o) => o.status === '-');
      if (rightBad) {
        if (rightBad.start > p) await dev.mark(p, rightBad.start - p, '/', '*');
        break;
      }
    }
  }

  // 3. scraping
  cursor = 0;
  while (!stopped()) {
    const s = await nextFree(cursor, '/');
    if (s === undefined) break;
    const e = spanEnd(s, TRIM_SECTORS);
    report('/', 1, s);
    await dev.fetch(s, e, '/', 'scrape', 'background');
    cursor = e;
  }

  // 4. retrying bad sectors
  for (let pass = 1; pass <= dev.retries && !stopped(); pass++) {
    cursor = 0;
    while (!stopped()) {
      const s = await nextFree(cursor, '-');
      if (s === undefined) break;
      cursor = s + 1;
      if (dev.triesAt(s) >= pass) continue;
      report('-', pass, s);
      await dev.fetch(s, s + 1, '-', 'scrape', 'background');
    }
  }

  const aborted = stopped();
  const left = dev.status();
  if (!aborted) report(left.bytesUntried + left.bytesNonTrimmed + left.bytesNonScraped === 0 ? '+' : '?', 1, n);
  else report(left.phase, left.pass, Math.floor(left.currentPos / ss));
  return { ...dev.status(), aborted };
}


