// Keeps the SBX block index up to date with the cache: every byte range that enters the cache is scanned
// (in the background, never on a reader's path), and at start-up whatever is cached but not yet scanned
// (a crash between caching and scanning, an `import`, a cache made before this feature) is scanned too.
//
// A block may straddle the boundary between two cached runs: each scan looks back up to one largest block
// (4096 bytes) before its range and ahead as far as the cache holds, so such a block is found as soon as
// its last sector is cached, whichever side arrives first. Only cached ('+') bytes are ever read: scanning
// never costs a device read.
//
// Its cost on the mount server's thread is kept to almost nothing (an acquisition or a cold reader goes no slower
// for it): the bytes are read into one buffer reused for every piece (a fresh 4 MiB buffer per piece made garbage
// that the acquisition paid for in full collections), and what was scanned is recorded in the index rarely (a
// commit of the cache database is an fsync on the event loop): when the arrivals pause, every RECORD_EVERY bytes,
// when a batch grows old or large, when a listing waits, and at stop. A crash loses only unrecorded scans, which
// the next start-up repeats (ranges are marked scanned in the same transaction as their blocks).
//
// On a machine of few cores the scan waits while a fast medium is read (src/cache/background-yield.ts, as the image
// checksums do): arrivals stay queued, in order, and are scanned once the reading pauses or slows, which a timer
// looks for (the last arrivals of an acquisition come while the rate is still high, and nothing comes after). A
// listing of /rescued/ (idle()) does not wait for that: it asks for the scan, so what is queued is scanned at once.
import { Extent } from '../../cache/extent-map';
import { ChunkDamagedError } from '../../cache/fixity';
import { HEADER_SIZE, isEcVersion, MAX_BLOCK_SIZE, SCAN_STEP } from '../../sbx/format/specs';
import { parseMetadataPayload } from '../../sbx/format/metadata';
import { uidToHex } from '../../sbx/format/header';
import type { SectorCache } from '../../cache/sector-cache';
import { backgroundYield } from '../../cache/background-yield';
import { mergeRanges } from '../../cache/byte-ranges';
import { scanForBlocks, FoundBlock, ScannedBlock } from '../../sbx/format/scan';
import { BlockIndex, RsGeometry } from './block-index';

export interface ScannerProgress {
  pendingBytes: number;
  scannedBytes: number;
  blocksFound: number;
  /** The scan waits for a fast reading of the medium to pause or slow (background-yield.ts). */
  waiting: boolean;
}

export interface ScannerOptions {
  log?: (message: string) => void;
  /** How long arrivals pause before a scan is recorded (tests make it long, to see when else it is). */
  recordQuietMs?: number;
  /** True while the scan should wait (default: background-yield.ts on the cache's device rate and this machine). */
  mustWait?: () => boolean;
  /** While waiting: how often it looks again whether it still must. */
  recheckMs?: number;
}

/** Largest span read at once while scanning (bounds memory, lets foreground reads in between). */
const CHUNK = 8 << 20;
const LOOK = MAX_BLOCK_SIZE - SCAN_STEP;
/** Largest range read back and scanned at once (bounds the scanner's memory). */
const SCAN_PIECE = 4 * 1024 * 1024;
/** Block starts scanned between two turns of the event loop. */
const SCAN_SLICE = 256 * 1024;
/** Wait before scanning what arrived, so cache commits are scanned (and recorded) in batches. */
const SCAN_DELAY_MS = 50;
/** Bytes scanned per index transaction at most (the database is synchronous=FULL: each commit is an fsync). */
const RECORD_EVERY = 256 << 20;
/** Blocks found per index transaction at most (bounds the memory of a batch on a medium full of SBX blocks). */
const RECORD_BLOCKS = 50_000;
/** A scan is recorded once no arrival came for this long (the end of an acquisition, a reader's pause)... */
const RECORD_QUIET_MS = 1000;
/** ...or once its batch is this old, so /rescued/ and /status follow a long acquisition. */
const RECORD_MAX_AGE_MS = 10_000;
/** While the scan waits for a fast reading to pause or slow: how often it looks again. */
const RECHECK_MS = 300;

export class MediumScanner {
  /** Byte ranges waiting to be scanned, in arrival order (adjacent arrivals merged). */
  private readonly queue: { start: number; end: number }[] = [];
  private running: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private scannedBytes = 0;
  private blocksFound = 0;
  private lastError: string | undefined;
  /** Scanned but not yet recorded. */
  private batch: ScanBatch = emptyBatch();
  private recordTimer: NodeJS.Timeout | undefined;
  /** Read buffer, reused for every piece. */
  private buffer: Buffer | undefined;
  /** Set while the scan waits for the reading to pause or slow (no run is going; arrivals only queue). */
  private waitTimer: NodeJS.Timeout | undefined;
  private readonly log: (message: string) => void;
  private readonly recordQuietMs: number;
  private readonly mustWait: () => boolean;
  private readonly recheckMs: number;

  constructor(
    private readonly cache: SectorCache,
    private readonly index: BlockIndex,
    options: ScannerOptions = {},
  ) {
    this.log = options.log ?? (() => {});
    this.recordQuietMs = options.recordQuietMs ?? RECORD_QUIET_MS;
    this.mustWait = options.mustWait ?? backgroundYield(() => cache.busyRateNow());
    this.recheckMs = options.recheckMs ?? RECHECK_MS;
  }

  /** Subscribes to the cache and queues whatever is cached but was never scanned. */
  start(): void {
    this.unsubscribe = this.cache.onSectorsCached((offset, length) => this.enqueue(offset, offset + length));
    const ss = this.cache.sectorSize;
    const scanned = this.index.scannedRanges();
    let si = 0;
    for (const run of this.cache.extents()) {
      if (run.status !== '+') continue;
      let start = run.start * ss;
      const end = Math.min(this.cache.size, (run.start + run.count) * ss);
      while (si < scanned.length && scanned[si].end <= start) si++;
      for (let k = si; k < scanned.length && scanned[k].start < end && start < end; k++) {
        if (scanned[k].start > start) this.enqueue(start, scanned[k].start);
        start = Math.max(start, scanned[k].end);
      }
      if (start < end) this.enqueue(start, end);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
    await this.running;
    clearTimeout(this.recordTimer);
    this.flush();
    // Nothing more will be scanned: whoever waits for the scanner must not wait forever.
    this.queue.length = 0;
    this.wakeIdle(true);
  }

  enqueue(start: number, end: number): void {
    if (this.stopped || end <= start) return;
    const last = this.queue[this.queue.length - 1];
    if (last && last.end === start) last.end = end;
    else this.queue.push({ start, end });
    this.kick();
  }

  private kick(): void {
    if (this.running || this.stopped || this.waitTimer) return;
    // A short pause lets a burst of cache commits (an acquisition) pile up into one scan and one commit.
    this.running = new Promise<void>((resolve) => setTimeout(resolve, SCAN_DELAY_MS))
      .then(() => this.drain())
      .then((outcome) => {
        this.running = undefined;
        // Work queued after the drain loop looked for the last time is picked up by a fresh run. After a
        // failure the queue waits for the next arrival (or the next start-up) instead of spinning.
        if (outcome === 'waiting' && this.idleWaiters.length === 0) this.waitForQuiet();
        else if (outcome !== 'failed' && this.queue.length > 0 && !this.stopped) this.kick();
        else this.wakeIdle(true);
        this.recordLater();
      });
  }

  /** Looks every recheckMs whether the reading paused or slowed; then the queue is scanned. */
  private waitForQuiet(): void {
    if (this.stopped) return;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      if (this.stopped) return;
      if (this.mustWait() && this.idleWaiters.length === 0) this.waitForQuiet();
      else this.kick();
    }, this.recheckMs);
    this.waitTimer.unref();
  }

  /** Resolves once everything cached so far has been scanned and recorded (the /rescued/ listing waits for it). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) {
      this.flush();
      return Promise.resolve();
    }
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    // A listing asks for the scan: what is queued is scanned now, even while a fast medium is read.
    if (this.waitTimer) {
      clearTimeout(this.waitTimer);
      this.waitTimer = undefined;
      this.kick();
    }
    return idle;
  }

  progress(): ScannerProgress {
    return {
      pendingBytes: this.queue.reduce((n, r) => n + r.end - r.start, 0),
      scannedBytes: this.scannedBytes,
      blocksFound: this.blocksFound,
      waiting: this.waitTimer !== undefined,
    };
  }

  private wakeIdle(force = false): void {
    if (this.running || (this.queue.length > 0 && !force)) return;
    if (this.idleWaiters.length > 0) this.flush();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Scans the queue: 'failed' when a scan failed (the range stays queued, unmarked, and is scanned later), 'waiting'
   * when it stopped for a fast reading of the medium (unless a listing waits for the scan).
   */
  private async drain(): Promise<'done' | 'waiting' | 'failed'> {
    try {
      while (!this.stopped && this.queue.length > 0) {
        if (this.idleWaiters.length === 0 && this.mustWait()) return 'waiting';
        const r = this.queue[0];
        const end = Math.min(r.end, r.start + CHUNK);
        await this.scanRange(r.start, end, this.batch);
        r.start = end;
        if (r.start >= r.end) this.queue.shift();
        const b = this.batch;
        if (b.bytes >= RECORD_EVERY || b.blocks.length >= RECORD_BLOCKS || (b.since > 0 && Date.now() - b.since >= RECORD_MAX_AGE_MS)) this.record();
      }
      // Someone lists /rescued/: what was found so far is recorded now, even while arrivals go on.
      if (this.idleWaiters.length > 0) this.record();
      return 'done';
    } catch (err) {
      // E.g. the cache closed under us at shutdown, or a disk error: nothing is lost, the failed range was not
      // marked scanned, so the next start-up (or the next arrival) scans it again.
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) this.log(`sbx scan: ${message}`);
      this.lastError = message;
      return 'failed';
    }
  }

  /** Records the batch once no scan ran for recordQuietMs. */
  private recordLater(): void {
    clearTimeout(this.recordTimer);
    if (this.batch.bytes === 0 && this.batch.blocks.length === 0) return;
    this.recordTimer = setTimeout(() => {
      this.recordTimer = undefined;
      if (!this.running) this.flush(); // else the end of that run sets the timer again
    }, this.recordQuietMs);
    this.recordTimer.unref();
  }

  /** record(), failures logged: the ranges stay unmarked (scanned again at the next start-up) and are tried again. */
  private flush(): void {
    try {
      this.record();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) this.log(`sbx scan: recording the scan failed: ${message}`);
      this.lastError = message;
    }
  }

  /** One transaction for everything scanned since the last one. */
  private record(): void {
    const batch = this.batch;
    if (batch.scanned.length === 0 && batch.blocks.length === 0) return;
    this.blocksFound += this.index.record(batch.blocks, batch.geometries, mergeRanges(batch.scanned).map(([start, end]) => ({ start, end })));
    this.scannedBytes += batch.bytes;
    this.batch = emptyBatch();
  }

  /**
   * What of piece `p` can be scanned without the damaged chunk `e` (whose bytes are never served). The damaged range
   * is not recorded as scanned: once the chunk is repaired (read again and announced anew), or at the next start-up,
   * it is scanned; meanwhile the rest of the medium is, instead of the queue stopping at it for the whole session.
   */
  private around(p: ScanPiece, e: ChunkDamagedError): ScanPiece[] {
    const message = `skipping ${e.message}`;
    if (message !== this.lastError) this.log(`sbx scan: ${message}`);
    this.lastError = message;
    const [da, db] = [e.offset, e.offset + e.length];
    if (db <= p.wa || da >= p.wb) throw e; // not in this window: scanning around it would not get past it
    const out: ScanPiece[] = [];
    if (p.a < da) out.push({ a: p.a, b: Math.min(p.b, da), wa: p.wa, wb: Math.min(p.wb, da) });
    if (db < p.b) out.push({ a: Math.max(p.a, db), b: p.b, wa: Math.max(p.wa, db), wb: p.wb });
    return out;
  }

  /** Scans block starts in [start, end) using whatever cached bytes surround them. */
  private async scanRange(start: number, end: number, batch: ScanBatch): Promise<void> {
    const ss = this.cache.sectorSize;
    const sectors = Math.ceil(this.cache.size / ss);
    const runFrom = (sector: number): Extent | undefined => (sector < sectors ? this.cache.runAt(sector) : undefined);
    // Restrict to the cached ('+') part of the range; each cached piece is scanned with its own window.
    const pieces: ScanPiece[] = [];
    for (let run = runFrom(Math.floor(start / ss)); run && run.start * ss < end; run = runFrom(run.start + run.count)) {
      if (run.status !== '+') continue;
      const runStart = run.start * ss;
      const runEnd = Math.min(this.cache.size, (run.start + run.count) * ss);
      const a = Math.max(start, runStart);
      const b = Math.min(end, runEnd);
      // Pieces of at most SCAN_PIECE bytes: a commit may announce tens of MiB at once, read back in one buffer each.
      for (let x = a; x < b; x += SCAN_PIECE) {
        const y = Math.min(b, x + SCAN_PIECE);
        pieces.push({ a: x, b: y, wa: Math.max(runStart, x - LOOK), wb: Math.min(runEnd, y + LOOK) });
      }
    }
    for (const p of pieces) {
      this.buffer ??= Buffer.allocUnsafeSlow(SCAN_PIECE + 2 * LOOK);
      const data = this.buffer.subarray(0, p.wb - p.wa);
      try {
        await this.cache.readCachedInto(p.wa, data.length, data);
      } catch (e) {
        if (!(e instanceof ChunkDamagedError)) throw e;
        pieces.push(...this.around(p, e));
        continue;
      }
      // Block starts from one block before the piece (blocks straddling into it) to its end, a slice at a time: a
      // medium of forged headers costs a CRC of up to 4096 bytes per 128 scanned (~90 ms per piece on one core).
      for (let from = Math.max(p.wa, p.a - LOOK); from < p.b; from += SCAN_SLICE) {
        const found = scanForBlocks(data, p.wa, from, Math.min(p.b, from + SCAN_SLICE));
        for (const { pos, header } of found) batch.blocks.push({ pos, header }); // not the bytes: `data` is reused
        for (const g of geometriesIn(found)) batch.geometries.push(g);
        if (from + SCAN_SLICE < p.b) await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (batch.since === 0) batch.since = Date.now();
      batch.scanned.push([p.a, p.b]);
      batch.bytes += p.b - p.a;
    }
  }
}

/** A scan piece and its window in the cache: [a, b) is scanned, [wa, wb) read around it for straddling blocks. */
interface ScanPiece {
  a: number;
  b: number;
  wa: number;
  wb: number;
}

interface ScanBatch {
  blocks: FoundBlock[];
  geometries: RsGeometry[];
  scanned: [number, number][];
  bytes: number;
  /** Date.now() when its first range was scanned (0: empty). */
  since: number;
}

function emptyBatch(): ScanBatch {
  return { blocks: [], geometries: [], scanned: [], bytes: 0, since: 0 };
}

/** RS geometry (D, P) from the EC metadata blocks among `found`. */
function geometriesIn(found: readonly ScannedBlock[]): RsGeometry[] {
  const out: RsGeometry[] = [];
  for (const { header: h, bytes } of found) {
    if (h.seq !== 0 || !isEcVersion(h.version)) continue;
    const meta = parseMetadataPayload(bytes.subarray(HEADER_SIZE));
    if (meta.rsd !== undefined && meta.rsp !== undefined) {
      out.push({ uid: uidToHex(h.uid), version: h.version, d: meta.rsd, p: meta.rsp });
    }
  }
  return out;
}
