// Crash torture: does "a sector is '+' only once its bytes are durable" and "each sector is read from the device at
// most once, whatever crashes" hold when the mount server dies by SIGKILL at arbitrary moments? A random medium with
// bad sectors (nbdkit -r, log + delay + ddrescue filters) is mounted again and again on one --cache; each round runs
// `blkfs acquire` and/or dd / ddrescue / sbx readers and kill -9s the server after 0–1.5 s. After every kill the
// committed state (the cache's database) is checked; at the end the acquisition is finished and the image, the map,
// the live /mapfile, `blkfs status` and `blkfs verify` are checked, and the nbdkit log is searched for device bytes
// read twice. Then SIGKILL lands during an export, an import, an archive and an /sbx read.
// Prints findings and figures; exits 1 when a rule was broken. Usage: bench/crash-torture.sh [ROUNDS] [SIZE_MIB] [SEED]
import { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { truthMapfile, BadRange } from '../test/helpers/truth-mapfile';
import { tortureOutputs } from './crash-torture-outputs';
import { blkfs, children, committedState, describeSectors, Done, finding, findings, killServer, MINUS, mount, mounted, PLUS, Read, readsIn, rnd, setBeforeMount, setSeed, sleep, SS, start, State, verifyCache, wrongPlusSectors } from './crash-torture-lib';

const ROUNDS = Number(process.argv[2] ?? 30);
const SIZE = Number(process.argv[3] ?? 64) * 1024 * 1024;
const SEED = Number(process.argv[4] ?? Date.now() % 100000);
setSeed(SEED);

// ------------------------------------------------------------------------------------------------ the medium

export function randomMedium(size: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = (SEED * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf.writeUInt32LE(x >>> 0, i);
  }
  return buf;
}

/** Bad sector ranges past the identity window, apart from each other. */
function badRanges(size: number): BadRange[] {
  const out: BadRange[] = [];
  const sectors = size / SS;
  for (let tries = 0; out.length < 12 && tries < 1000; tries++) {
    const s = 256 + rnd(sectors - 512);
    const n = 1 + rnd(rnd(2) ? 4 : 64);
    if (out.some((b) => s < b.offset / SS + b.length / SS + 8 && b.offset / SS < s + n + 8)) continue;
    out.push({ offset: s * SS, length: n * SS });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

// ------------------------------------------------------------------------------------------------ the rounds

type Workload = { name: string; child: ChildProcess; done: Promise<Done>; touchesBad: boolean };

function workloads(mnt: string, tmp: string, round: number, bad: BadRange[]): Workload[] {
  const out: Workload[] = [];
  const add = (name: string, w: { child: ChildProcess; done: Promise<Done> }, from = 0, to = SIZE) =>
    out.push({ name, ...w, touchesBad: bad.some((b) => b.offset < to && from < b.offset + b.length) });
  if (rnd(10) < 7) add('acquire', blkfs(['acquire', mnt, '-q']));
  const dds = rnd(4);
  for (let i = 0; i < dds; i++) {
    const bs = [4096, 65536, 1 << 20][rnd(3)];
    const skip = rnd(SIZE - bs); // unaligned on purpose: partial sectors
    const count = bs * (1 + rnd(16));
    add(`dd@${skip}+${count}`, start('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', `bs=${bs}`, `skip=${skip}`, `count=${count}`, 'iflag=skip_bytes,count_bytes', 'status=none']), skip, skip + count);
  }
  if (rnd(10) < 3) {
    const pos = rnd(SIZE / SS - 4096) * SS;
    const len = (1 + rnd(4096)) * SS;
    const direct = rnd(2) === 1;
    add(`ddrescue${direct ? ' -d' : ''}@${pos}+${len}`, start('ddrescue', ['-q', ...(direct ? ['-d'] : []), '-i', String(pos), '-o', '0', '-s', String(len), path.join(mnt, 'raw'), path.join(tmp, `dr${round}.img`), path.join(tmp, `dr${round}.map`)]));
  }
  if (rnd(10) < 2) {
    const skip = rnd(64) * 512 * 1024;
    add(`sbx@${skip}`, start('dd', [`if=${path.join(mnt, 'sbx', 'image.sbx')}`, 'of=/dev/null', 'bs=64K', `skip=${skip}`, `count=${(1 + rnd(8)) << 20}`, 'iflag=skip_bytes,count_bytes', 'status=none']));
  }
  return out;
}

interface RoundReads {
  round: number;
  killedAt: number;
  reads: Read[];
}

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-torture-'));
  const mnt = path.join(tmp, 'mnt');
  const cache = path.join(tmp, 'cache');
  fs.mkdirSync(mnt);
  const sectors = SIZE / SS;
  const medium = randomMedium(SIZE);
  const bad = badRanges(SIZE);
  const imagePath = path.join(tmp, 'medium.img');
  fs.writeFileSync(imagePath, medium);
  fs.writeFileSync(path.join(tmp, 'truth.map'), truthMapfile(SIZE, bad));
  const logFile = path.join(tmp, 'nbdkit.log');
  const sock = path.join(tmp, 'nbd.sock');
  const rdelay = process.env.RDELAY ?? '10ms';
  // Our nbdkit; started again (same socket, log appended) if it dies: nbdkit 1.32 has been seen to abort when a
  // client vanishes mid-request. Such deaths are counted (they are nbdkit's, not blkfs's).
  let nbdkit!: ReturnType<typeof start>;
  let nbdkitDeaths = 0;
  const startNbdkit = async (): Promise<void> => {
    fs.rmSync(sock, { force: true });
    nbdkit = start('nbdkit', ['-f', '-r', '-U', sock, '--filter=log', '--filter=delay', '--filter=ddrescue', 'file', imagePath, `logfile=${logFile}`, 'logappend=true', `rdelay=${rdelay}`, `ddrescue-mapfile=${path.join(tmp, 'truth.map')}`]);
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await sleep(25);
  };
  const ensureNbdkit = async (): Promise<void> => {
    if (nbdkit.child.exitCode === null && nbdkit.child.signalCode === null) return;
    const d = await nbdkit.done;
    nbdkitDeaths++;
    console.log(`nbdkit died (${d.code ?? d.signal}): ${d.stderr.trim().split('\n').slice(-2).join(' | ')}; started again`);
    await startNbdkit();
  };
  await startNbdkit();
  setBeforeMount(ensureNbdkit);
  const uri = `nbd+unix:///?socket=${sock}`;
  console.log(`crash torture: ${ROUNDS} rounds, ${SIZE >> 20} MiB random medium, ${bad.length} bad ranges (${bad.reduce((n, b) => n + b.length, 0) / SS} sectors), rdelay ${rdelay}, seed ${SEED}, dir ${tmp}`);
  const isBad = new Uint8Array(sectors);
  for (const b of bad) isBad.fill(1, b.offset / SS, (b.offset + b.length) / SS);

  let cleanExit = false;
  try {
    let before = committedState(cache, sectors);
    const rounds: RoundReads[] = [];
    let logged = 0;
    let probeRereads = 0;
    let killed = 0;
    const workloadCount = new Map<string, number>();
    let noStateReads = 0;
    const checkRound = (round: number, before: State | undefined, after: State | undefined, reads: Read[]): void => {
      if (!after) {
        if (before) finding(`round ${round}: the cache state is gone after the kill`);
        if (reads.some((r) => r.ok)) noStateReads += reads.filter((r) => r.ok).length;
        return;
      }
      // '+' only with the medium's bytes; nothing committed is lost.
      const wrong = wrongPlusSectors(cache, after.status, medium);
      if (wrong.length) finding(`round ${round}: '+' sectors with wrong bytes: ${JSON.stringify(wrong.slice(0, 5))}`);
      const lost: number[] = [];
      const badPlus: number[] = [];
      for (let s = 0; s < sectors; s++) {
        const was = before?.status[s];
        if ((was === PLUS || was === MINUS) && after.status[s] !== was) lost.push(s);
        if (after.status[s] === PLUS && isBad[s]) badPlus.push(s);
        if (after.status[s] === MINUS && !isBad[s]) badPlus.push(s);
      }
      if (lost.length) finding(`round ${round}: committed sectors changed state after the kill: ${describeSectors(lost)}`);
      if (badPlus.length) finding(`round ${round}: sectors whose state contradicts the medium: ${describeSectors(badPlus)}`);
      // No device read may touch a sector committed '+' or '-' before this round (the identity probe is the stated exception).
      const reread: number[] = [];
      for (const r of reads) {
        for (let s = Math.floor(r.offset / SS); s < Math.ceil((r.offset + r.count) / SS); s++) {
          const was = before?.status[s];
          if (was !== PLUS && was !== MINUS) continue;
          if (was === PLUS && before!.probes.has(s)) probeRereads++;
          else reread.push(s);
        }
      }
      if (reread.length) finding(`round ${round}: committed sectors read from the device again: ${describeSectors([...new Set(reread)].sort((a, b) => a - b))}`);
    };

    for (let round = 1; round <= ROUNDS; round++) {
      // Some rounds kill the server while it starts (connecting, creating or opening the cache, probing, mounting):
      // run in the foreground, it is our child. Round 1 creates the cache.
      if (round === 1 || rnd(10) < 2) {
        await ensureNbdkit();
        const fg = blkfs(['mount', '-f', uri, mnt, '--cache', cache]);
        const delay = rnd(round === 1 ? 400 : 1200);
        await sleep(delay);
        const ready = fg.child.exitCode === null && mounted(mnt);
        await killServer(fg.child.pid!, mnt, cache);
        await fg.done;
        killed++;
        workloadCount.set('start-up', (workloadCount.get('start-up') ?? 0) + 1);
        await sleep(50);
        const size = fs.statSync(logFile).size;
        const reads = readsIn(logFile, logged, size);
        logged = size;
        const after = committedState(cache, sectors);
        checkRound(round, before, after, reads);
        if (after) {
          await verifyCache(cache, `round ${round}`);
          before = after;
        }
        rounds.push({ round, killedAt: Date.now(), reads });
        console.log(`round ${String(round).padStart(3)}: kill ${delay} ms into a mount -f (${ready ? 'mounted' : 'not mounted yet'}); ${reads.length} device reads; ${after ? 'cache state kept' : 'no cache state yet'}`);
        continue;
      }
      const pid = await mount(uri, mnt, cache);
      const work = workloads(mnt, tmp, round, bad);
      for (const w of work) workloadCount.set(w.name.replace(/@.*/, ''), (workloadCount.get(w.name.replace(/@.*/, '')) ?? 0) + 1);
      const delay = rnd(1500);
      const finished = await Promise.race([sleep(delay).then(() => false), Promise.all(work.map((w) => w.done)).then(() => true)]);
      // Some rounds kill the server while it unmounts (flushing its commits, checkpointing, stopping nbdkit).
      const duringUmount = rnd(10) < 2;
      if (duringUmount) {
        const u = blkfs(['umount', '--lazy', mnt]);
        await sleep(rnd(400));
        u.child.kill('SIGKILL');
        await u.done;
        workloadCount.set('umount', (workloadCount.get('umount') ?? 0) + 1);
      }
      const killedAt = Date.now();
      await killServer(pid, mnt, cache);
      killed++;
      for (const w of work) w.child.kill('SIGKILL');
      const results = await Promise.all(work.map((w) => w.done));
      for (let i = 0; i < work.length; i++) {
        const r = results[i];
        // A reader of a killed mount fails (ENOTCONN); one that ended before the kill must have succeeded.
        if (finished && r.code !== 0 && !work[i].name.startsWith('ddrescue') && !(work[i].touchesBad && /Input\/output error/.test(r.stderr))) finding(`round ${round}: ${work[i].name} failed before the kill: ${r.stderr.slice(0, 300)}`);
      }
      await sleep(50); // the log filter's last lines
      const size = fs.statSync(logFile).size;
      const reads = readsIn(logFile, logged, size);
      logged = size;
      const after = committedState(cache, sectors);
      if (!after) throw new Error(`round ${round}: no cache state after the kill`);
      checkRound(round, before, after, reads);
      await verifyCache(cache, `round ${round}`);
      rounds.push({ round, killedAt, reads });
      const plus = after.status.reduce((n, v) => n + (v === PLUS ? 1 : 0), 0);
      const plusBefore = before ? before.status.reduce((n, v) => n + (v === PLUS ? 1 : 0), 0) : 0;
      const okBytes = reads.reduce((n, r) => n + (r.ok ? r.count : 0), 0);
      console.log(
        `round ${String(round).padStart(3)}: kill after ${String(delay).padStart(4)} ms${duringUmount ? ' (during a umount)' : ''}${finished ? ' (work had ended)' : ''}; ${work.map((w) => w.name).join(', ') || 'no readers'}; ${reads.length} device reads (${(okBytes / 1048576).toFixed(1)} MiB ok), +${(((plus - plusBefore) * SS) / 1048576).toFixed(1)} MiB committed; ${((plus * SS) / SIZE * 100).toFixed(1)}% '+'`,
      );
      before = after;
    }

    // ---- finish the acquisition, then check the final state against the medium.
    const pid = await mount(uri, mnt, cache);
    const acq = await blkfs(['acquire', mnt, '-q']).done;
    if (acq.code !== 0) finding(`final acquire exit ${acq.code}: ${acq.stderr.slice(0, 400)}`);
    const live = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    const st = await blkfs(['status', mnt, '--json']).done;
    const exp = await blkfs(['export', mnt, path.join(tmp, 'out.img'), path.join(tmp, 'out.map')]).done;
    if (exp.code !== 0) finding(`export exit ${exp.code}: ${exp.stderr.slice(0, 400)}`);
    const outMap = fs.readFileSync(path.join(tmp, 'out.map'), 'utf8');
    const blocks = (t: string) => t.split('\n').filter((l) => /^0x[0-9A-Fa-f]+\s+0x[0-9A-Fa-f]+\s+\S$/.test(l.trim())).map((l) => l.trim().split(/\s+/));
    if (JSON.stringify(blocks(live)) !== JSON.stringify(blocks(outMap))) finding('the live /mapfile and the exported mapfile differ');
    const mapStatus = new Uint8Array(sectors);
    for (const [p, s, c] of blocks(live)) mapStatus.fill(c.charCodeAt(0), Number(p) / SS, (Number(p) + Number(s)) / SS);
    const wrongState: number[] = [];
    for (let s = 0; s < sectors; s++) if (mapStatus[s] !== (isBad[s] ? MINUS : PLUS)) wrongState.push(s);
    if (wrongState.length) finding(`final map differs from the medium's truth at ${describeSectors(wrongState)}`);
    const out = fs.readFileSync(path.join(tmp, 'out.img'));
    const wrongBytes: number[] = [];
    for (let s = 0; s < sectors; s++) if (mapStatus[s] === PLUS && !out.subarray(s * SS, s * SS + SS).equals(medium.subarray(s * SS, s * SS + SS))) wrongBytes.push(s);
    if (wrongBytes.length) finding(`exported image differs from the medium at '+' sectors ${describeSectors(wrongBytes)}`);
    let status: Record<string, unknown> = {};
    try {
      status = JSON.parse(st.stdout);
    } catch {
      finding(`blkfs status --json: ${st.code} ${st.stderr.slice(0, 200)}`);
    }
    const badBytes = bad.reduce((n, b) => n + b.length, 0);
    const sRescued = Number(status.bytesCached ?? NaN);
    const sBad = Number(status.bytesBad ?? NaN);
    if (sRescued !== SIZE - badBytes || sBad !== badBytes) finding(`blkfs status says rescued ${sRescued} bad ${sBad}; the map says ${SIZE - badBytes} and ${badBytes} (${JSON.stringify(status).slice(0, 300)})`);
    console.log(`final: acquire exit ${acq.code}; status rescued ${sRescued} bad ${sBad}; ${wrongState.length} sectors with a wrong state, ${wrongBytes.length} with wrong bytes`);

    // ---- part 2: SIGKILL during an export, an import, an archive, an /sbx read.
    await tortureOutputs({ uri, mnt, cache, tmp, medium, sectors, pid, isBad, imagePath });

    const u = await blkfs(['umount', mnt]).done; // the server tortureOutputs left running
    if (u.code !== 0) finding(`umount exit ${u.code}: ${u.stderr}`);
    await verifyCache(cache, 'final');
    const last = committedState(cache, sectors)!;
    const wrongAtEnd = wrongPlusSectors(cache, last.status, medium);
    if (wrongAtEnd.length) finding(`at the end: '+' sectors with wrong bytes ${JSON.stringify(wrongAtEnd.slice(0, 5))}`);
    const size = fs.statSync(logFile).size;
    rounds.push({ round: ROUNDS + 1, killedAt: Date.now(), reads: readsIn(logFile, logged, size) });

    // ---- the whole log: good bytes read twice, split into (in flight at a kill) and the rest.
    const probes = committedState(cache, sectors)!.probes;
    const firstRead = new Float64Array(sectors).fill(0); // round of the first ok read, 0 none
    const firstReturned = new Float64Array(sectors);
    let inFlight = 0;
    let twiceSameServer = 0;
    let maxLag = 0;
    const lagHist = new Map<string, number>();
    const sameServer: number[] = [];
    const slow = new Map<string, number>();
    for (const rr of rounds) {
      for (const r of rr.reads) {
        if (!r.ok) continue;
        for (let s = Math.floor(r.offset / SS); s < Math.ceil((r.offset + r.count) / SS); s++) {
          if (firstRead[s] === 0) {
            firstRead[s] = rr.round;
            firstReturned[s] = r.returned!;
            continue;
          }
          if (probes.has(s)) continue; // the identity probe at a reopen: counted above
          if (firstRead[s] === rr.round) {
            twiceSameServer++;
            sameServer.push(s);
          } else {
            inFlight++;
            const earlier = rounds[firstRead[s] - 1];
            const lag = earlier.killedAt - firstReturned[s];
            if (lag >= 500) slow.set(`round ${earlier.round}: sector ${s}`, lag);
            maxLag = Math.max(maxLag, lag);
            const bucket = lag < 100 ? '<100ms' : lag < 250 ? '100-250ms' : lag < 500 ? '250-500ms' : lag < 1000 ? '0.5-1s' : '>=1s';
            lagHist.set(bucket, (lagHist.get(bucket) ?? 0) + 1);
            firstRead[s] = rr.round;
            firstReturned[s] = r.returned!;
          }
        }
      }
    }
    if (twiceSameServer) finding(`good sectors read twice by one server: ${describeSectors([...new Set(sameServer)].sort((a, b) => a - b))}`);
    if (nbdkitDeaths) console.log(`nbdkit died ${nbdkitDeaths} time(s) and was started again`);
    console.log(`kills: ${killed} (rounds), workloads: ${[...workloadCount].map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    console.log(`identity probe sectors read again at reopen: ${probeRereads}; ok device reads of start-ups killed before the cache existed: ${noStateReads}`);
    console.log(`good sectors read again after a kill, their first read not committed at the kill (in flight): ${inFlight}; time from that read's return to the kill: ${[...lagHist].map(([k, v]) => `${k}: ${v}`).join(', ') || '-'} (max ${maxLag} ms)`);
    if (slow.size) console.log(`  read back ≥ 500 ms before its kill, yet not committed: ${[...slow].slice(0, 12).map(([k, v]) => `${k} (${v} ms)`).join('; ')}${slow.size > 12 ? ` … (${slow.size})` : ''}`);
    console.log(findings.length === 0 ? 'RESULT: no rule broken' : `RESULT: ${findings.length} finding(s)`);
    cleanExit = true;
  } finally {
    for (const c of children) if (c !== nbdkit.child) c.kill('SIGKILL');
    if (mounted(mnt)) await start('fusermount3', ['-uz', mnt]).done;
    nbdkit.child.kill('SIGKILL');
    await nbdkit.done;
    if (cleanExit && findings.length === 0 && !process.env.KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }
  process.exitCode = findings.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 2;
  });
}
