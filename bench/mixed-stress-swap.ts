// The media-change round of bench/mixed-stress: a read-only loop device holding disc A, mounted without --cache;
// concurrent readers of /raw; the disc swapped to B (LOOP_CHANGE_FD) and back to A while they read. Each read must
// be wholly A's or wholly B's bytes (never a mix), A's before the swap, B's once the mount follows B, A's once it
// is back; each cache holds only its own disc; no good byte of a disc read from the device twice, apart from the
// identity sectors read again to recognise A.
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, swapLoop } from '../test/helpers/loop-device';
import { overlaps, Range } from '../test/helpers/nbdkit-log';
import { StateStore } from '../src/cache/state-store';
import { blkfs, mount, run } from '../test/integration/mount/harness';
import { Findings, fmtRanges, MiB, PREAD_PY, randomBytes, sampleRss, sleep, stackTraces } from './mixed-stress-lib';

type Rec = [number, number, number, number, string, number]; // t0, t1 (s), offset, length, class or errno, open time

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
    const traces = fs.existsSync(lp) ? stackTraces(fs.readFileSync(lp, 'utf8')) : [];
    if (traces.length) f.problem(`${traces.length} stack traces in ${lp}, the first: ${traces[0]}`);
  }
  deviceReads(f, logFile, { swap1, swap2 });
  f.max('swap round server VmHWM MiB', Math.round(mem.hwmKiB / 1024));
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
  for (const [s, e, off, len, cls, opened] of recs) {
    const kind = cls.split(':')[0];
    f.count(`swap reads ${kind}`);
    const data = /^[AB]+$|^neither$/.test(kind);
    const where = `${off}+${len} at +${(s - t.swap1).toFixed(2)}..${(e - t.swap1).toFixed(2)} s from the first swap`;
    if (kind === 'neither') bad(`read ${where} got neither disc's bytes`);
    if (!data) {
      // an error: only while the drive changes (until the mount follows it)
      // while the drive changes (until the mount follows it), or on a file opened on the medium that was replaced
      const inChange = (e >= t.swap1 && s <= t.ackB) || (e >= t.swap2 && s <= t.ackA);
      const staleHandle = kind === 'ENOMEDIUM' && ((s > t.swap1 && opened < t.ackB) || (s > t.swap2 && opened < t.ackA));
      if (!(inChange || staleHandle) || kind === 'EIO') bad(`read ${where} failed with ${kind}`);
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

/**
 * Device reads per nbdkit process (each medium's stack starts its own; their request ids repeat, so the log is
 * read in order): the first process serves A until the first swap (its reads after it raced the swap and are
 * thrown away, or look at the new medium), the second B until the second swap, the third A again. No good byte of B twice; of A, only the identity sectors again.
 */
function deviceReads(f: Findings, logFile: string, t: { swap1: number; swap2: number }): void {
  const gens: { reads: { at: number; range: Range; ok?: boolean }[] }[] = [];
  const open = new Map<string, { at: number; range: Range; ok?: boolean }>();
  const tzFix = new Date().getTimezoneOffset() * 60; // nbdkit logs local time
  for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (/ Ready thread_model/.test(line)) gens.push({ reads: [] });
    const req = /^(\S+ \S+) connection=(\d+) Read id=(\d+) offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)/i.exec(line);
    if (req && gens.length) {
      const r = { at: Date.parse(req[1].replace(' ', 'T') + 'Z') / 1000 + tzFix, range: { offset: Number(req[4]), length: Number(req[5]) } };
      gens[gens.length - 1].reads.push(r);
      open.set(`${req[2]}/${req[3]}`, r);
    }
    const ret = /connection=(\d+) \.\.\.Read id=(\d+) return=(-?\d+)/.exec(line);
    if (ret) {
      const r = open.get(`${ret[1]}/${ret[2]}`);
      if (r) r.ok = ret[3] === '0';
      open.delete(`${ret[1]}/${ret[2]}`);
    }
  }
  f.count('swap round nbdkit processes', gens.length);
  if (gens.length !== 3) return f.note(`swap round: ${gens.length} nbdkit processes in the log, expected 3 (A, B, A): device reads not judged`);
  const ok = (rs: typeof gens[0]['reads']) => rs.filter((r) => r.ok).map((r) => r.range);
  const aFirst = ok(gens[0].reads.filter((r) => r.at < t.swap1));
  // B's process reads the drive's identity sectors once A is back (to see that it is not B any more): A's bytes
  const raced = ok([...gens[0].reads.filter((r) => r.at >= t.swap1), ...gens[1].reads.filter((r) => r.at >= t.swap2)]);
  const b = ok(gens[1].reads.filter((r) => r.at < t.swap2));
  const aAgain = ok(gens[2].reads);
  const bytes = (rs: Range[]) => rs.reduce((n, r) => n + r.length, 0);
  f.count('swap round device reads', gens.reduce((n, g) => n + g.reads.length, 0));
  f.count('swap round device bytes read after a swap by the process of the medium before', bytes(raced));
  const twiceB = overlaps(b);
  if (twiceB.length) f.problem(`B's good bytes read from the device twice: ${bytes(twiceB)} bytes, ${fmtRanges(twiceB)}`);
  for (const [label, rs] of [['A before the swap', aFirst], ['A once back', aAgain]] as const) {
    const twice = overlaps(rs);
    if (twice.length) f.problem(`${label}: good bytes read from the device twice: ${fmtRanges(twice)}`);
  }
  const again = overlaps([...aFirst, ...aAgain]);
  f.note(`swap round: A's good bytes read again once A was back: ${bytes(again)} (${again.length} ranges: ${fmtRanges(again, 4)})`);
  if (bytes(again) > 2 * 48 * 512) f.problem(`A's good bytes read again once A was back: ${bytes(again)} bytes, more than its identity sectors: ${fmtRanges(again)}`);
}
