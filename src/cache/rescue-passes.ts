// The rescue passes: acquisition with GNU ddrescue's strategy, through the cache at background priority (a user's reads go first):
//   1. copying: forward, several reads in flight. A healthy medium streams in large aligned reads (4 MiB) that
//      go on without waiting for their commit; a large read that fails is read again cluster by cluster (64 KiB,
//      ddrescue's default), and the next large-read's worth after a failure is read in clusters too, so a bad area
//      is mapped at ddrescue's granularity. A failed cluster becomes '*' and the pass skips ahead (doubling the
//      skip after each failure, back to one cluster after a success), so a bad zone costs few slow reads; pass 2
//      then copies what pass 1 skipped (ddrescue goes backwards there; we stay forwards);
//   2. trimming: each '*' block is read sector by sector from its start until a failure ('-'), then from its end
//      backwards until a failure ('-'); what lies between becomes '/'. An edge next to a '-' sector counts as
//      trimmed (ddrescue's rule), so nothing next to a known bad sector is read before scraping. Several blocks at once;
//   3. scraping: every '/' sector is read on its own ('+' or '-'), several at once;
//   4. retrying (only with retries > 0): each '-' sector is re-read once per pass, up to `retries` passes in all.
// Everything lives in the state store, so an interrupted acquisition resumes where it stood.
// A scope (rescue-scope.ts) limits them as ddrescue's options do: -N skips trimming, -n scraping, and a domain
// (-i/-s) keeps every pass inside it: nothing outside is read, nor waited for.
// A read the server fails for a passing reason (TransientReadError: out of memory...) marks nothing: the passes stop,
// wait, and start again from the state (so nothing read is read again); after TRANSIENT_TRIES such stops in a row
// without progress they give up with an OperationError naming the error, the area left untried for a later run.

import { OperationError } from '../errors';
import { TransientReadError } from '../source/block-source';
import type { Extent, SectorStatus } from './extent-map';
import type { MapfilePhase } from './mapfile';
import type { CacheStatus, Priority } from './sector-cache';
import type { RescueScope } from './rescue-scope';
import type { Progress } from './sector-store';
import type { FetchMode, Outcome } from './span-fetch';

/** What the passes need of the cache (CachedDevice): its state, its flights, and fetching a span. */
export interface RescueTarget {
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorCount: number;
  readonly retries: number;
  fetch(start: number, end: number, from: SectorStatus, mode: FetchMode, priority: Priority): Promise<Outcome[]>;
  /** Resolves when every read started so far is committed. */
  flush(): Promise<void>;
  /** Resolves once the passes' own spans read so far are committed (or failed), without waiting for other reads. */
  commitCopies(): Promise<void>;
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
  /** Copying-pass cluster in a bad area (ddrescue's), default 64 KiB. */
  chunkBytes?: number;
  /** Copying-pass read on a healthy medium, default 1 MiB (at least chunkBytes); `blkfs acquire` uses 4 MiB. */
  streamBytes?: number;
  /** Reads at once in every pass (keeps the NBD pipe busy), default 4. */
  concurrency?: number;
  /** Wait after the first transient server failure, doubled after each further one in a row; default 1000 ms. */
  transientWaitMs?: number;
  /** ddrescue's -n, -N, -i/-s; default: every phase over the whole medium. */
  scope?: RescueScope;
}

export interface RescueResult extends CacheStatus {
  /** True when stopped by the signal before the end; run again to resume. */
  aborted: boolean;
  /** The scope the passes ran with (what the counters' leftovers mean: '/' kept by -n, '?' outside a domain...). */
  scope: RescueScope;
}

const TRIM_SECTORS = 64;
/** '/' sectors one scraping step reads (each on its own). */
const SCRAPE_SECTORS = 16;

/** The copying pass's large read on a healthy medium, in sectors (streamBytes, at least a cluster). */
export function streamSectors(opts: RescueOptions, sectorSize: number): number {
  const chunk = Math.max(1, Math.floor((opts.chunkBytes ?? 64 * 1024) / sectorSize));
  return Math.max(chunk, Math.floor((opts.streamBytes ?? 1024 * 1024) / sectorSize));
}

/** Transient server failures in a row (no sector settled between them) before the acquisition stops. */
export const TRANSIENT_TRIES = 3;

export async function runRescuePasses(dev: RescueTarget, opts: RescueOptions): Promise<RescueResult> {
  let inARow = 0;
  for (;;) {
    const before = settledBytes(dev);
    try {
      return await runPassesOnce(dev, opts);
    } catch (err) {
      if (!(err instanceof TransientReadError)) throw err;
      await dev.commitCopies();
      inARow = settledBytes(dev) !== before ? 1 : inARow + 1;
      if (inARow >= TRANSIENT_TRIES) {
        throw new OperationError(
          `stopped: the server failed reads ${inARow} times in a row for a passing reason (${err.message}); nothing was marked ` +
            'bad: run blkfs acquire again to continue where it stopped',
          { cause: err },
        );
      }
      const waited = await pause((opts.transientWaitMs ?? 1000) * 2 ** (inARow - 1), opts.signal);
      if (!waited) return { ...dev.status(), aborted: true, scope: opts.scope ?? {} };
    }
  }
}

/** The map's totals: any sector the passes settled changes them. */
function settledBytes(dev: RescueTarget): string {
  const st = dev.status();
  return [st.bytesCached, st.bytesBad, st.bytesUntried, st.bytesNonTrimmed, st.bytesNonScraped].join();
}

/** Waits ms; false when the signal stopped the wait. */
function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      resolve(ok);
    };
    const stop = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', stop);
  });
}

async function runPassesOnce(dev: RescueTarget, opts: RescueOptions): Promise<RescueResult> {
  const ss = dev.sectorSize;
  const n = dev.sectorCount;
  const scope = opts.scope ?? {};
  // The domain in sectors, [lo, hi): every pass starts at lo and stops at hi.
  const lo = scope.domain ? Math.floor(scope.domain.start / ss) : 0;
  const hi = scope.domain ? Math.min(n, Math.ceil(scope.domain.end / ss)) : n;
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
      const s = nextInDomain(from, status);
      if (s === undefined) return undefined;
      if (!(await dev.waitForFlight(s))) return s;
    }
  };
  /** First sector >= from (and >= lo) in `status` inside the domain. */
  const nextInDomain = (from: number, status: SectorStatus): number | undefined => {
    const s = dev.nextWithStatus(Math.max(from, lo), status);
    return s !== undefined && s < hi ? s : undefined;
  };
  /** Bytes in `status` inside the domain (a walk of its runs, not of its sectors). */
  const bytesInDomain = (status: SectorStatus): number => {
    if (!scope.domain) return status === '*' ? dev.status().bytesNonTrimmed : dev.status().bytesNonScraped;
    let bytes = 0;
    for (let s = nextInDomain(lo, status); s !== undefined; ) {
      const r = dev.runAt(s);
      const e = Math.min(r.start + r.count, hi);
      bytes += (e - s) * ss;
      s = nextInDomain(e, status);
    }
    return bytes;
  };
  /** End of the span starting at s that has s's status, no flight inside, at most max sectors, within the domain. */
  const spanEnd = (s: number, max: number) => {
    const r = dev.runAt(s);
    return Math.min(r.start + r.count, dev.nextFlightAfter(s), s + max, hi);
  };

  /**
   * ddrescue's trimming of the '*' block [a, b): forward from a, a sector at a time, to the first bad sector; then
   * backward from b to the next bad one; the sectors between the two become '/'.
   */
  const trimBlock = async (a: number, b: number) => {
    // ddrescue: "If any edge is already adjacent to a bad sector, it is considered as already trimmed": no reading
    // next to a known bad sector before scraping (which -n leaves for later).
    const trailTrimmed = b < n && dev.statusAt(b) === '-';
    let p = a;
    let leftBad: number | undefined = a > 0 && dev.statusAt(a - 1) === '-' ? a - 1 : undefined;
    while (!stopped() && p < b && leftBad === undefined) {
      if (dev.statusAt(p) !== '*' || (await dev.waitForFlight(p))) return; // a reader got there first
      const e = Math.min(b, spanEnd(p, TRIM_SECTORS));
      const lead = await dev.fetch(p, e, '*', 'forward', 'background');
      if (lead.length === 0) return;
      leftBad = lead.find((o) => o.status === '-')?.start;
      p = e;
    }
    if (leftBad === undefined) return;
    const lo = leftBad + 1;
    if (trailTrimmed) {
      if (b > lo && !stopped()) await dev.mark(lo, b - lo, '/', '*');
      return;
    }
    let q = b;
    while (!stopped() && q > lo) {
      if (dev.statusAt(q - 1) !== '*' || (await dev.waitForFlight(q - 1))) return;
      const s = Math.max(lo, q - TRIM_SECTORS, dev.runAt(q - 1).start);
      if (dev.nextFlightAfter(s - 1) < q) return;
      report('*', 1, q);
      const trail = await dev.fetch(s, q, '*', 'backward', 'background');
      const rightBad = trail.find((o) => o.status === '-');
      if (rightBad) {
        if (rightBad.start > lo) await dev.mark(lo, rightBad.start - lo, '/', '*');
        return;
      }
      if (trail.length === 0) return;
      q = s;
    }
  };

  const workers = Math.max(1, opts.concurrency ?? 4);
  /** Runs `step` on `workers` workers until one returns false or throws (the first error is rethrown). */
  const parallel = async (step: () => Promise<boolean>) => {
    let failure: unknown;
    let done = false;
    const worker = async () => {
      while (!done && !stopped() && failure === undefined) {
        try {
          if (!(await step())) done = true;
        } catch (err) {
          failure ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: workers }, worker));
    if (failure !== undefined) throw failure;
  };

  // 1. copying
  const stream = streamSectors(opts, ss);
  const saved = dev.savedProgress();
  const savedAt = saved?.phase === '?' && saved.pass === 1 ? Math.floor(saved.currentPos / ss) : lo;
  const resumeAt = savedAt >= lo && savedAt < hi ? savedAt : lo;
  const copyPass = async (pass: number, from: number, skipping: boolean) => {
    let cursor = from;
    let skip = chunk;
    /** Clusters, not large reads, below this sector (just after a failure). */
    let clustersUntil = 0;
    await parallel(async () => {
      const s = await nextFree(cursor, '?');
      if (s === undefined) return false;
      if (dev.statusAt(s) !== '?' || dev.nextFlightAfter(s - 1) === s) return true; // taken while we waited
      const size = s < clustersUntil ? chunk : stream;
      const e = Math.min(spanEnd(s, size), (Math.floor(s / size) + 1) * size);
      cursor = Math.max(cursor, e);
      report('?', pass, s);
      const outcomes = await dev.fetch(s, e, '?', e - s > chunk ? 'stream' : 'copy', 'background');
      if (outcomes.some((o) => o.status !== '+')) {
        clustersUntil = Math.max(clustersUntil, e + stream);
        if (skipping) {
          cursor = Math.max(cursor, e + skip);
          skip = Math.min(skip * 2, maxSkip);
        }
      } else if (outcomes.length > 0) {
        skip = chunk;
      }
      return true;
    });
  };
  await copyPass(1, resumeAt, true);
  // The last spans' '+' now, not after the group commit's wait for company: until then they look untried.
  await dev.commitCopies();
  if (!stopped() && nextInDomain(lo, '?') !== undefined) await copyPass(2, lo, false);

  // 2. trimming: each worker takes the next '*' block whole (blocks are disjoint, so workers never meet). A block a
  // reader held is left '*' and taken again by the next round.
  const rounds = async (status: SectorStatus, round: () => Promise<void>) => {
    let left = Infinity;
    for (;;) {
      const count = bytesInDomain(status);
      if (stopped() || count === 0 || count >= left) return;
      left = count;
      await round();
    }
  };
  let cursor = lo;
  if (!scope.noTrim) await rounds('*', async () => {
    cursor = lo;
    await parallel(async () => {
      const a = await nextFree(cursor, '*');
      if (a === undefined) return false;
      const block = dev.runAt(a);
      const b = Math.min(block.start + block.count, dev.nextFlightAfter(a), hi);
      if (block.status !== '*' || a < cursor) return true; // taken while we waited
      cursor = b;
      report('*', 1, a);
      await trimBlock(a, b);
      return true;
    });
  });

  // 3. scraping
  if (!scope.noScrape) await rounds('/', async () => {
    cursor = lo;
    await parallel(async () => {
      const s = await nextFree(cursor, '/');
      if (s === undefined) return false;
      if (dev.statusAt(s) !== '/' || s < cursor) return true; // taken while we waited
      const e = spanEnd(s, SCRAPE_SECTORS);
      cursor = e;
      report('/', 1, s);
      await dev.fetch(s, e, '/', 'scrape', 'background');
      return true;
    });
  });

  // 4. retrying bad sectors
  for (let pass = 1; pass <= dev.retries && !stopped(); pass++) {
    cursor = lo;
    while (!stopped()) {
      const s = await nextFree(cursor, '-');
      if (s === undefined) break;
      cursor = s + 1;
      if (dev.triesAt(s) >= pass) continue;
      report('-', pass, s);
      await dev.fetch(s, s + 1, '-', 'scrape', 'background');
    }
  }

  await dev.flush(); // the copying pass's last spans: their '+' is committed before the totals are read
  const aborted = stopped();
  if (!aborted) {
    // What is left, anywhere on the medium (kept by -n/-N, outside the domain, or held by a reader): the status line
    // names the first of it, so the next run's copying pass resumes at the first untried sector, not past the end.
    const next = (['?', '*', '/'] as const).map((st) => [st, dev.nextWithStatus(0, st)] as const).find(([, at]) => at !== undefined);
    if (next) report(next[0], 1, next[1] ?? 0);
    else report('+', 1, n);
  } else {
    const left = dev.status();
    report(left.phase, left.pass, Math.floor(left.currentPos / ss));
  }
  return { ...dev.status(), aborted, scope };
}


