// The media-change round of bench/mixed-stress: a read-only loop device holding disc A, mounted without --cache;
// concurrent readers of /raw; the disc swapped to B (LOOP_CHANGE_FD) and back to A while they read. Each read must
// be wholly A's or wholly B's bytes (never a mix), A's before the swap, B's once the mount follows B, A's once it
// is back; each cache holds only its own disc; no good byte of a disc read from the device twice, apart from the
// identity sectors read again to recognise A.
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, swapLoop } from '../test/helpers/loop-device';
import { overlaps, parseNbdkitLog, Range } from '../test/helpers/nbdkit-log';
import { StateStore } from '../src/cache/state-store';
import { blkfs, mount, run } from '../test/integration/mount/harness';
import { Findings, fmtRanges, MiB, PREAD_PY, randomBytes, sampleRss, sleep, stackTraces } from './mixed-stress-lib';

type Rec = [number, number, number, number, string]; // t0, t1 (s), offset, length, class or errno

export async function swapRound(dir: string, mib: number, seconds: number, seed: number, f: Findings): Promise<void> {
  const size = mib * MiB;
  const a = randomBytes(size, `swap/${seed}/A`);
  const b = Buffer.from(a); // the same pressing for the first MiB, another disc after
  randomBytes(size - MiB, `swap/${seed}/B`).copy(b, MiB);
  const aPath = path.join(dir, 'A.img');
  const bPath = path.join(dir, 'B.img');
  fs.writeFileSync(aPath, a);
  fs.writeFileSync(bPath, b);
  const env = { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') };
  const ld = await attachLoop(aPath);
  const mnt = path.join(dir, 'swapmnt');
  const logFile = path.join(dir, 'swap-reads.log');
  const pid = await mount(ld, mnt, ['--nbdkit-filter', 'log', '--nbdkit-filter', `logfile=${logFile}`, '--nbdkit-filter', 'logappend=true', '--nbdkit-filter', 'delay', '--nbdkit-filter', 'rdelay=3ms'], env);
  const rss = sampleRss(pid);
  const cacheOf = async () => JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8')).server.cacheDir as string;
  const aCache = await cacheOf();
  const t0 = Date.now();
  const until = (t0 + seconds * 1000) / 1000;
  const readers = (['buffered', 'buffered', 'direct', 'direct'] as const).map((mode, i) =>
    run('python3', [PREAD_PY, path.join(mnt, 'raw'), path.join(dir, `swap${i}.json`), '--media', `${aPath},${bPath}`, '--mode', mode, '--seed', String(seed * 100 + i), '--until', String(until), '--max-len', String(MiB)], { timeoutMs: seconds * 1000 + 300_000 }),
  );
  const acquire = blkfs(['acquire', '-q', mnt], { timeoutMs: seconds * 1000 + 300_000 });

  const waitCache = async (what: string, test: (c: string) => boolean): Promise<number> => {
    for (let i = 0; i < 300; i++) {
      try {
        if (test(await cacheOf())) return Date.now() / 1000;
      } catch {
        // /status answers throughout; a failure here is reported below if it lasts
      }
      await sleep(100);
    }
    f.problem(`the mount did not follow the drive to ${what} within 30 s`);
    return Infinity;
  };
  await sleep(seconds * 300);
  const swap1 = Date.now() / 1000;
  await swapLoop(ld, bPath);
  const swap1Done = Date.now() / 1000;
  const ackB = await waitCache('B', (c) => c !== aCache);
  const bCache = await cacheOf();
  const acquireB = blkfs(['acquire', '-q', mnt], { timeoutMs: seconds * 1000 + 300_000 });
  await sleep(Math.max(0, t0 + seconds * 600 - Date.now()));
  const swap2 = Date.now() / 1000;
  await swapLoop(ld, aPath);
  const swap2Done = Date.now() / 1000;
  const ackA = await waitCache('A again', (c) => c === aCache);
  process.stdout.write(`  swap A→B at +${(swap1 - t0 / 1000).toFixed(1)} s (followed ${(ackB - swap1).toFixed(1)} s later), B→A at +${(swap2 - t0 / 1000).toFixed(1)} s (followed ${(ackA - swap2).toFixed(1)} s later)\n`);
  const acquireA = blkfs(['acquire', '-q', mnt], { timeoutMs: seconds * 1000 + 300_000 });

  for (const [i, r] of (await Promise.all(readers)).entries()) {
    if (r.code !== 0) {
      f.problem(`swap reader ${i} exited ${r.code}: ${r.stderr.trim().slice(-400)}`);
      continue;
    }
    const s = JSON.parse(fs.readFileSync(path.join(dir, `swap${i}.json`), 'utf8'));
    judge(f, `swap reader ${i} (${s.mode})`, s.records as Rec[], { swap1, swap1Done, ackB, swap2, swap2Done, ackA });
  }
  for (const [name, p] of [['acquire from the start', acquire], ['acquire once B was followed', acquireB], ['acquire once A was back', acquireA]] as const) {
    const r = await p;
    f.note(`swap round: blkfs ${name} exited ${r.code}${r.code ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`);
  }
  const mem = rss.stop();
  const um = await blkfs(['umount', mnt], { env });
  if (um.code !== 0) f.problem(`umount after the swaps exited ${um.code}: ${um.stderr.trim()}`);
  faithful(f, aCache, a, 'A cache', true);
  faithful(f, bCache, b, 'B cache', false);
  for (const c of new Set([aCache, bCache])) {
    const lp = path.join(c, 'mount.log');
    if (fs.existsSync(lp)) for (const t of stackTraces(fs.readFileSync(lp, 'utf8'))) f.problem(`stack trace in ${lp}: ${t}`);
  }
  deviceReads(f, logFile, { swap1, swap2Done });
  f.count('swap round server max VmRSS MiB', Math.round(mem.maxRssKiB / 1024));
}

interface Times {
  swap1: number;
  swap1Done: number;
  ackB: number;
  swap2: number;
  swap2Done: number;
  ackA: number;
}

function judge(f: Findings, who: string, recs: Rec[], t: Times): void {
  let shown = 0;
  const bad = (msg: string) => {
    if (shown++ < 10) f.problem(`${who}: ${msg}`);
  };
  for (const [s, e, off, len, cls] of recs) {
    const kind = cls.split(':')[0];
    f.count(`swap reads ${kind}`);
    const data = /^[AB]+$|^neither$/.test(kind);
    const where = `${off}+${len} at +${(s - t.swap1).toFixed(2)}..${(e - t.swap1).toFixed(2)} s from the first swap`;
    if (kind === 'neither') bad(`read ${where} got neither disc's bytes`);
    if (!data) {
      // an error: only while the drive changes (until the mount follows it)
      const inChange = (e >= t.swap1 && s <= t.ackB) || (e >= t.swap2 && s <= t.ackA);
      if (!inChange || kind === 'EIO') bad(`read ${where} failed with ${kind}`);
      continue;
    }
    if (e < t.swap1 && !kind.includes('A')) bad(`read ${where} before any swap got ${kind}`);
    if (s > t.ackB && e < t.swap2 && !kind.includes('B')) bad(`read ${where} while B was followed got ${kind}`);
    if (s > t.ackA && !kind.includes('A')) bad(`read ${where} after A was back got ${kind}`);
    if (s > t.swap1Done && e < t.swap2 && kind === 'A') f.count('swap reads of A bytes while B was in the drive (from A\'s cache)');
  }
}

function faithful(f: Findings, cacheDir: string, medium: Buffer, label: string, expectSome: boolean): void {
  const store = StateStore.open(path.join(cacheDir, 'state.sqlite'), cacheDir);
  try {
    const id = store.identity();
    if (!id) return f.problem(`${label}: no identity`);
    const data = fs.readFileSync(path.join(cacheDir, 'data.img'));
    let plus = 0;
    for (const e of store.loadSectorMap(Math.ceil(id.size / id.sectorSize)).extents()) {
      if (e.status !== '+') continue;
      const lo = e.start * id.sectorSize;
      const hi = Math.min(id.size, (e.start + e.count) * id.sectorSize);
      if (!data.subarray(lo, hi).equals(medium.subarray(lo, hi))) f.problem(`${label}: '+' bytes ${lo}..${hi} are not its disc's`);
      plus += hi - lo;
    }
    f.count(`${label} bytes held`, plus);
    if (expectSome && plus === 0) f.problem(`${label} holds nothing`);
  } finally {
    store.close();
  }
}

/** Device reads of A (before the first swap and after the second) never overlap, beyond the identity sectors. */
function deviceReads(f: Findings, logFile: string, t: { swap1: number; swap2Done: number }): void {
  const text = fs.readFileSync(logFile, 'utf8');
  const times = new Map<string, number>(); // connection/id → request time
  for (const line of text.split('\n')) {
    const m = /^(\S+ \S+) connection=(\d+) Read id=(\d+)/.exec(line);
    if (m) times.set(`${m[2]}/${m[3]}`, Date.parse(m[1].replace(' ', 'T') + 'Z') / 1000);
  }
  const log = parseNbdkitLog(text);
  const tzFix = new Date().getTimezoneOffset() * 60; // nbdkit logs local time
  const aReads: Range[] = [];
  const bReads: Range[] = [];
  for (const r of log.reads) {
    if (r.outcome !== 'ok') continue;
    const at = (times.get(`${r.connection}/${r.id}`) ?? 0) + tzFix;
    const range = { offset: r.offset, length: r.count };
    if (at < t.swap1 || at > t.swap2Done) aReads.push(range);
    else bReads.push(range);
  }
  // Connections restart across the swaps: the same id on two connections is told apart by connection above.
  const twiceA = overlaps(aReads);
  const twiceB = overlaps(bReads);
  const bytes = (rs: Range[]) => rs.reduce((n, r) => n + r.length, 0);
  f.count('swap round device reads', log.reads.length);
  f.note(`swap round: A's good bytes read twice: ${bytes(twiceA)} (identity sectors allow about 48 × 512 = 24576) ${fmtRanges(twiceA, 4)}`);
  if (bytes(twiceA) > 2 * 48 * 512) f.problem(`A's good bytes read from the device twice: ${bytes(twiceA)} bytes, ${fmtRanges(twiceA)}`);
  if (bytes(twiceB) > 2 * 48 * 512) f.problem(`B's good bytes read from the device twice: ${bytes(twiceB)} bytes, ${fmtRanges(twiceB)}`);
}
