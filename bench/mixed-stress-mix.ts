// One round of bench/mixed-stress: one mount of a slow nbdkit medium with bad clusters, and at once, until a
// deadline, every kind of reader a user runs on it. Each reader checks what it got as it goes; at the end the
// device reads (nbdkit's log), the final map, the exported image, /checksums, /sbx/image.sbx, mount.log and the
// server's memory are checked.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { blkfs, mount, rangesWithStatus, run, start, startNbdkit, umount } from '../test/integration/mount/harness';
import { checkDeviceReads, checkRead, Findings, firstBad, Medium, MiB, PREAD_PY, rng, sampleRss, SECTOR, sleep, stackTraces } from './mixed-stress-lib';

export interface MixOptions {
  seconds: number;
  rate: string; // nbdkit rate filter: how fast the medium is
  rdelay: string; // nbdkit delay filter: per request
  seed: number;
  acquireAt: number; // fraction of the run when `blkfs acquire` starts (>= 1: never)
  driverAt: number; // fraction when ddrescue starts driving /mapfile (>= 1: never)
  fileSource: boolean; // mount the image file (blkfs runs nbdkit, filters given with --nbdkit-filter), else an NBD URI
}

export async function mixRound(dir: string, m: Medium, o: MixOptions, f: Findings): Promise<void> {
  const size = m.image.length;
  const mnt = path.join(dir, `mnt${o.seed}`);
  const cache = path.join(dir, `cache${o.seed}`);
  const truth = path.join(dir, 'truth.map');
  let nbd: { logFile: string; stop(): Promise<void> };
  let pid: number;
  if (o.fileSource) {
    const logFile = path.join(dir, `blkfs-nbdkit${o.seed}.log`);
    const filters = ['log', `logfile=${logFile}`, 'delay', `rdelay=${o.rdelay}`, 'rate', `rate=${o.rate}`, 'ddrescue', `ddrescue-mapfile=${truth}`];
    pid = await mount(m.imagePath, mnt, ['--cache', cache, '--http', '127.0.0.1:0', ...filters.flatMap((x) => ['--nbdkit-filter', x])]);
    nbd = { logFile, stop: async () => undefined };
  } else {
    const server = await startNbdkit(dir, m.imagePath, truth, { rdelay: o.rdelay, rate: o.rate, tag: `nbd${o.seed}` });
    nbd = server;
    pid = await mount(server.uri, mnt, ['--cache', cache, '--http', '127.0.0.1:0']);
  }
  const raw = path.join(mnt, 'raw');
  const rss = sampleRss(pid);
  const t0 = Date.now();
  const until = t0 + o.seconds * 1000;
  const at = (frac: number) => sleep(Math.max(0, t0 + frac * o.seconds * 1000 - Date.now()));
  const status = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8'));
  const web: string | undefined = status.server?.http?.replace(/\/$/, "") ?? undefined;
  if (!web) f.note('the mount has no web page address in /status');
  const sbxPieces: { off: number; hash: string }[] = [];
  const out = (name: string) => path.join(dir, `r${o.seed}-${name}`);

  const tasks: Promise<void>[] = [];
  // python preads: two buffered, two O_DIRECT
  for (const [i, mode] of (['buffered', 'buffered', 'direct', 'direct'] as const).entries()) {
    tasks.push(pread(f, raw, m, mode, o.seed * 10 + i, until, out(`py${i}.json`)));
  }
  tasks.push(nodeReader(f, raw, m, o.seed, until));
  tasks.push(ddLoop(f, raw, m, o.seed, until, out('dd')));
  tasks.push(ddrescueDomainLoop(f, raw, m, o.seed, until, out('ddr')));
  if (o.driverAt < 1) tasks.push(at(o.driverAt).then(() => ddrescueDriver(f, mnt, m, out('drv'))));
  if (o.acquireAt < 1)
    tasks.push(
      at(o.acquireAt).then(async () => {
        const r = await blkfs(['acquire', '-q', mnt], { timeoutMs: 600_000 });
        f.count('acquire runs');
        if (r.code !== 0) f.problem(`blkfs acquire exited ${r.code}: ${r.stderr.trim()}`);
      }),
    );
  tasks.push(sbxPieceReader(f, mnt, size, o.seed, until, sbxPieces));
  tasks.push(viewPoller(f, mnt, m, o.seed, until));
  tasks.push(commandPoller(f, mnt, until));
  if (web) tasks.push(webPoller(f, web, until, out('web.sbx')));
  await Promise.all(tasks);

  // Whatever is still missing, then the whole container once more (its metadata acquires the rest).
  const acq = await blkfs(['acquire', '-q', mnt], { timeoutMs: 600_000 });
  if (acq.code !== 0) f.problem(`final blkfs acquire exited ${acq.code}: ${acq.stderr.trim()}`);
  const sbx = await run('sh', ['-c', `cat "${mnt}/sbx/image.sbx" > "${out('image.sbx')}"`], { timeoutMs: 600_000 });
  if (sbx.code !== 0) f.problem(`cat /sbx/image.sbx failed: ${sbx.stderr.trim()}`);
  const finalMap = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
  // On a machine of fewer than 4 cores the hashing waits while the readers read the cache fast (README, /checksums):
  // the readers have stopped, so it catches up now.
  const checksums = await untilHashed(path.join(mnt, 'checksums'), 60_000);
  const st = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8'));
  const mem = rss.stop();
  await umount(mnt);
  await nbd.stop();

  // The medium as the container and the checksums see it: zeros at bad sectors.
  const zeroed = Buffer.from(m.image);
  for (const b of m.bad) zeroed.fill(0, b.offset, b.offset + b.length);
  const sha = crypto.createHash('sha256').update(zeroed).digest('hex');
  if (!checksums.includes(sha)) f.problem(`/checksums has no sha256 ${sha}: ${checksums.slice(0, 300)}`);
  const sbxFile = fs.readFileSync(out('image.sbx'));
  const dec = await run(process.execPath, [path.resolve(__dirname, '../src/cli/main.js'), 'sbx', 'decode', '-f', out('image.sbx'), out('decoded.img')], { timeoutMs: 300_000 });
  if (dec.code !== 0) f.problem(`sbx decode of /sbx/image.sbx exited ${dec.code}: ${dec.stderr.trim()}`);
  else if (!fs.readFileSync(out('decoded.img')).equals(zeroed)) f.problem('/sbx/image.sbx decodes to something else than the medium (zeros at bad sectors)');
  for (const p of sbxPieces) {
    const now = crypto.createHash('sha256').update(sbxFile.subarray(p.off, p.off + 65536)).digest('hex');
    if (now !== p.hash) f.problem(`/sbx/image.sbx at ${p.off} read during the run differs from the final container`);
  }
  if (fs.existsSync(out('web.sbx')) && !fs.readFileSync(out('web.sbx')).equals(sbxFile)) f.problem('image.sbx downloaded from the web page differs from /sbx/image.sbx');
  // The cache, exported: exact bad map, every '+' byte the medium's.
  const exp = await blkfs(['export', '--cache', cache, out('export.img'), out('export.map')], { timeoutMs: 300_000 });
  if (exp.code !== 0) f.problem(`blkfs export exited ${exp.code}: ${exp.stderr.trim()}`);
  else {
    const emap = fs.readFileSync(out('export.map'), 'utf8');
    const badNow = rangesWithStatus(emap, '-');
    if (JSON.stringify(badNow) !== JSON.stringify(m.bad)) f.problem(`exported map's bad areas ${JSON.stringify(badNow)} are not the medium's ${JSON.stringify(m.bad)}`);
    const other = rangesWithStatus(emap, '?').concat(rangesWithStatus(emap, '*'), rangesWithStatus(emap, '/'));
    if (other.length) f.problem(`exported map still has unfinished areas: ${JSON.stringify(other.slice(0, 5))}`);
    const img = fs.readFileSync(out('export.img'));
    for (const r of rangesWithStatus(emap, '+')) {
      if (!img.subarray(r.offset, r.offset + r.length).equals(m.image.subarray(r.offset, r.offset + r.length))) f.problem(`exported image differs from the medium in + area ${r.offset}+${r.length}`);
    }
  }
  const liveBad = rangesWithStatus(finalMap, '-');
  for (const r of liveBad) if (firstBad(m.bad, r.offset, r.offset + r.length) === undefined) f.problem(`final /mapfile marks ${r.offset}+${r.length} bad, a good area`);
  if (st.bytesBad !== undefined && st.bytesBad !== m.bad.reduce((n, b) => n + b.length, 0)) f.note(`/status bytesBad ${st.bytesBad}`);
  checkDeviceReads(f, nbd.logFile, m, true);
  const log = fs.existsSync(path.join(cache, 'mount.log')) ? fs.readFileSync(path.join(cache, 'mount.log'), 'utf8') : '';
  const traces = stackTraces(log);
  if (traces.length) f.problem(`${traces.length} stack traces in mount.log, the first: ${traces[0]}`);
  const errLines = log.split('\n').filter((l) => /\b(error|ERROR)\b/.test(l) && !/bad sector|unreadable|EIO/.test(l));
  if (errLines.length) f.note(`mount.log error lines (${errLines.length}): ${errLines.slice(0, 5).join(' || ')}`);
  f.max('server VmRSS MiB, largest sample', Math.round(mem.maxRssKiB / 1024));
  f.max('server VmHWM MiB', Math.round(mem.hwmKiB / 1024));
  process.stdout.write(`  round ${o.seed}: ${((Date.now() - t0) / 1000).toFixed(0)} s, server RSS max ${(mem.maxRssKiB / 1024).toFixed(0)} MiB, HWM ${(mem.hwmKiB / 1024).toFixed(0)} MiB\n`);
}

async function pread(f: Findings, raw: string, m: Medium, mode: string, seed: number, until: number, outJson: string): Promise<void> {
  const args = [PREAD_PY, raw, outJson, '--media', m.imagePath, '--bad', m.badPath, '--mode', mode, '--seed', String(seed), '--until', String(until / 1000)];
  const r = await run('python3', args, { timeoutMs: until - Date.now() + 300_000 });
  if (r.code !== 0) return f.problem(`pread ${mode} ${seed} exited ${r.code}: ${r.stderr.trim().slice(-500)}`);
  const s = JSON.parse(fs.readFileSync(outJson, 'utf8'));
  f.count(`pread ${mode} reads`, s.reads);
  f.count(`pread ${mode} bytes`, s.bytes);
  f.count(`pread ${mode} EIO`, s.eio);
  f.count(`pread ${mode} short reads`, s.short);
  for (const v of s.violations) f.problem(`pread ${mode} seed ${seed}: ${v}`);
}

async function nodeReader(f: Findings, raw: string, m: Medium, seed: number, until: number): Promise<void> {
  const r = rng(seed * 7919 + 1);
  const fh = await fs.promises.open(raw, 'r');
  try {
    while (Date.now() < until) {
      const off = r(m.image.length);
      const len = 1 + r(r(2) ? 8192 : 3 * MiB);
      const buf = Buffer.alloc(len);
      let got = 0;
      let failed = false;
      try {
        for (;;) {
          const { bytesRead } = await fh.read(buf, got, len - got, off + got);
          if (bytesRead === 0) break;
          got += bytesRead;
          if (got === len) break;
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EIO') f.problem(`node reader: ${code} at ${off + got}`);
        failed = true;
        f.count('node reader EIO');
      }
      f.count('node reader reads');
      checkRead(f, 'node reader', m, off, len, buf.subarray(0, got), failed);
    }
  } finally {
    await fh.close();
  }
}

/** dd iflag=direct of random aligned ranges: what it copied is the medium's, and it stops only at a bad sector. */
async function ddLoop(f: Findings, raw: string, m: Medium, seed: number, until: number, outFile: string): Promise<void> {
  const r = rng(seed * 31 + 7);
  while (Date.now() < until) {
    const bs = [4096, 65536, MiB][r(3)];
    const skip = r(Math.floor(m.image.length / bs));
    const count = 1 + r(8);
    const res = await run('dd', [`if=${raw}`, `of=${outFile}`, `bs=${bs}`, `skip=${skip}`, `count=${count}`, 'iflag=direct', 'status=none']);
    const got = fs.readFileSync(outFile);
    f.count('dd iflag=direct runs');
    if (res.code !== 0) {
      f.count('dd stopped by an error');
      if (!/Input\/output error/.test(res.stderr)) f.problem(`dd: ${res.stderr.trim()}`);
    }
    checkRead(f, `dd bs=${bs} skip=${skip} count=${count}`, m, skip * bs, count * bs, got, res.code !== 0);
  }
}

/** ddrescue -d on random domains into its own image: its '+' areas are the medium's bytes, its '-' areas bad. */
async function ddrescueDomainLoop(f: Findings, raw: string, m: Medium, seed: number, until: number, base: string): Promise<void> {
  const r = rng(seed * 131 + 3);
  let n = 0;
  while (Date.now() < until) {
    const pos = r(m.image.length / SECTOR) * SECTOR;
    const len = (1 + r((8 * MiB) / SECTOR)) * SECTOR;
    const img = `${base}${n}.img`;
    const map = `${base}${n}.map`;
    n++;
    const res = await run('ddrescue', ['-d', '-b512', '-q', '-i', String(pos), '-s', String(len), raw, img, map], { timeoutMs: 600_000 });
    f.count('ddrescue -d domain runs');
    if (res.code !== 0) f.problem(`ddrescue -d -i ${pos} -s ${len} exited ${res.code}: ${res.stderr.trim()}`);
    checkDdrescueImage(f, `ddrescue -d -i ${pos} -s ${len}`, m, img, map);
    fs.rmSync(img, { force: true });
  }
}

function checkDdrescueImage(f: Findings, who: string, m: Medium, img: string, map: string): void {
  if (!fs.existsSync(map)) return f.problem(`${who}: no mapfile`);
  const text = fs.readFileSync(map, 'utf8');
  const data = fs.existsSync(img) ? fs.readFileSync(img) : Buffer.alloc(0);
  for (const p of rangesWithStatus(text, '+')) {
    const got = data.subarray(p.offset, p.offset + p.length);
    if (!got.equals(m.image.subarray(p.offset, p.offset + p.length))) f.problem(`${who}: its image differs from the medium in its + area ${p.offset}+${p.length}`);
    const fb = firstBad(m.bad, p.offset, p.offset + p.length);
    if (fb !== undefined) f.problem(`${who}: + area ${p.offset}+${p.length} holds the bad sector ${fb}`);
  }
  for (const p of rangesWithStatus(text, '-')) {
    for (let s = p.offset; s < p.offset + p.length; s += SECTOR) {
      if (firstBad(m.bad, s, s + 1) === undefined) {
        f.problem(`${who}: - area ${p.offset}+${p.length} holds the good sector ${s}`);
        break;
      }
    }
  }
}

/** GNU ddrescue driving the live /mapfile: a first pass, then once more with -r2 (the mount has no --retries). */
async function ddrescueDriver(f: Findings, mnt: string, m: Medium, base: string): Promise<void> {
  for (const extra of [[], ['-r2']]) {
    const res = await run('ddrescue', ['-d', '-b512', '-q', ...extra, path.join(mnt, 'raw'), `${base}.img`, path.join(mnt, 'mapfile')], { timeoutMs: 900_000 });
    f.count('ddrescue driver runs');
    if (res.code !== 0) f.problem(`ddrescue driving /mapfile ${extra.join(' ')} exited ${res.code}: ${res.stderr.trim()}`);
    const snap = path.join(`${base}.snapshot.map`);
    fs.writeFileSync(snap, await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'));
    checkDdrescueImage(f, `ddrescue driving /mapfile ${extra.join(' ')}`, m, `${base}.img`, snap);
  }
}

/** Random 64 KiB pieces of /sbx/image.sbx past its first super set (data blocks): compared with the final container. */
async function sbxPieceReader(f: Findings, mnt: string, size: number, seed: number, until: number, pieces: { off: number; hash: string }[]): Promise<void> {
  const r = rng(seed * 17 + 5);
  const file = path.join(mnt, 'sbx', 'image.sbx');
  while (Date.now() < until) {
    await sleep(200 + r(800));
    // a 10+2 container is about 1.2 × the image; stay in the first 90% of the image's span
    const off = (1 + r(Math.floor((size * 1.1) / 65536))) * 65536;
    try {
      const fh = await fs.promises.open(file, 'r');
      try {
        const buf = Buffer.alloc(65536);
        const { bytesRead } = await fh.read(buf, 0, 65536, off);
        if (bytesRead === 65536) pieces.push({ off, hash: crypto.createHash('sha256').update(buf).digest('hex') });
        f.count('sbx piece reads');
      } finally {
        await fh.close();
      }
    } catch (e) {
      f.problem(`/sbx/image.sbx read at ${off}: ${(e as Error).message}`);
    }
  }
}

/** /mapfile, /status, /checksums, /files.json, /map.png, /rescued/ (decoded payload checked) read at random. */
async function viewPoller(f: Findings, mnt: string, m: Medium, seed: number, until: number): Promise<void> {
  const r = rng(seed * 13 + 11);
  while (Date.now() < until) {
    await sleep(100 + r(300));
    const which = ['mapfile', 'status', 'checksums', 'files.json', 'map.png', 'rescued'][r(6)];
    try {
      if (which === 'rescued') await readRescued(f, mnt, m, r);
      else {
        const text = await fs.promises.readFile(path.join(mnt, which));
        if (which === 'status' || which === 'files.json') JSON.parse(text.toString('utf8'));
        if (which === 'mapfile') {
          for (const b of rangesWithStatus(text.toString('utf8'), '-')) {
            if (firstBad(m.bad, b.offset, b.offset + b.length) === undefined) f.problem(`/mapfile marks the good area ${b.offset}+${b.length} bad`);
          }
        }
      }
      f.count(`read /${which}`);
    } catch (e) {
      f.problem(`reading /${which}: ${(e as Error).message}`);
    }
  }
}

async function readRescued(f: Findings, mnt: string, m: Medium, r: (n: number) => number): Promise<void> {
  const dir = path.join(mnt, 'rescued');
  for (const uid of await fs.promises.readdir(dir)) {
    const names = await fs.promises.readdir(path.join(dir, uid));
    JSON.parse(await fs.promises.readFile(path.join(dir, uid, 'info.json'), 'utf8'));
    const data = names.find((n) => n !== 'info.json' && !n.endsWith('.sbx'));
    if (!data) continue;
    const fh = await fs.promises.open(path.join(dir, uid, data), 'r');
    try {
      const off = r(m.payload.length);
      const buf = Buffer.alloc(1 + r(256 * 1024));
      let got = 0;
      try {
        got = (await fh.read(buf, 0, buf.length, off)).bytesRead;
      } catch (e) {
        f.count(`rescued file read ${(e as NodeJS.ErrnoException).code}`);
      }
      if (!buf.subarray(0, got).equals(m.payload.subarray(off, off + got))) f.problem(`/rescued/${uid}/${data} at ${off}: bytes differ from the payload`);
      f.count('rescued file reads');
    } finally {
      await fh.close();
    }
  }
}

/** `blkfs status`, `status --json`, `files --json` on the live mount. */
async function commandPoller(f: Findings, mnt: string, until: number): Promise<void> {
  const cmds = [['status', mnt], ['status', '--json', mnt], ['files', '--json', mnt]];
  let i = 0;
  while (Date.now() < until) {
    const args = cmds[i++ % cmds.length];
    const res = await blkfs(args, { timeoutMs: 120_000 });
    f.count(`blkfs ${args.slice(0, -1).join(' ')}`);
    if (res.code !== 0) f.problem(`blkfs ${args.join(' ')} exited ${res.code}: ${res.stderr.trim().slice(0, 300)}`);
    await sleep(300);
  }
}

/** The web page: its JSON, pictures and downloads; one full download of image.sbx kept for the final comparison. */
async function webPoller(f: Findings, base: string, until: number, sbxOut: string): Promise<void> {
  const paths = ['/', '/status.json', '/map.png', '/map.svg', '/bad-areas.json', '/rescued.json', '/mapfile', '/checksums', '/files.json', '/sbx/image.map'];
  let i = 0;
  let sbxDone = false;
  const events = start('curl', ['-sN', '--max-time', String(Math.max(1, Math.round((until - Date.now()) / 1000))), `${base}/events`]);
  while (Date.now() < until) {
    const p = !sbxDone && i === 20 ? '/sbx/image.sbx' : paths[i % paths.length];
    i++;
    try {
      const { code, body } = await get(`${base}${p}`);
      f.count('web requests');
      if (code !== 200) f.problem(`web ${p}: HTTP ${code} ${body.subarray(0, 200).toString()}`);
      else if (p === '/sbx/image.sbx') {
        fs.writeFileSync(sbxOut, body);
        sbxDone = true;
      }
    } catch (e) {
      f.problem(`web ${p}: ${(e as Error).message}`);
    }
    await sleep(150);
  }
  const ev = await events.result;
  f.count('web events bytes', ev.stdout.length);
}

function get(url: string): Promise<{ code: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, body: Buffer.concat(parts) }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** /checksums once complete (no "# incomplete" line), or as it stands after `ms`. */
async function untilHashed(file: string, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = await fs.promises.readFile(file, 'utf8');
    if (!text.includes('# incomplete') || Date.now() > end) return text;
    await sleep(200);
  }
}
