// Issue 8: a bounded crash campaign. ROUNDS times: mount a slow NBD medium (real nbdkit, delay filter), run
// `blkfs acquire`, kill -9 the server at a random moment. After every kill: every '+' byte equals the medium's,
// every '+' byte has its checksum (written in the same commit: `blkfs verify` finds nothing to adopt and no
// damage), and no sector that was '+' before a round is read from the device again in it (the identity samples
// compared at each reopen are the stated exception).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { parseMapfile } from '../../../src/cache/mapfile';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { RestartableNbdServer } from '../../helpers/nbd-restart';
import { blkfs, cleanup, forgetServer, mount, patternImage, start, tempDir } from '../mount/harness';
import { expectCacheFaithful, plusRanges } from './cache-truth';
import { seededInts } from '../../helpers/seeded-random';

const SIZE = 16 * 1024 * 1024;
const ROUNDS = 6; // longer campaigns: bench/crash-torture.sh (the suite stays well under 15 minutes)

/** Bytes the live /mapfile says are '+'. */
function rescuedBytes(mnt: string): number {
  return parseMapfile(fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8')).blocks.reduce((n, b) => n + (b.status === '+' ? b.size : 0), 0);
}

/** Waits (up to 60 s) until the acquisition has rescued more than `before` bytes: a loaded machine starts it late. */
async function acquisitionReading(mnt: string, before: number): Promise<void> {
  for (let i = 0; i < 1200 && before < SIZE && rescuedBytes(mnt) <= before; i++) await new Promise((r) => setTimeout(r, 50));
}

describe('integrity: crash campaign (kill -9 during acquisition over a slow source)', function () {
  this.timeout(120_000);
  let tmp: string;

  beforeEach(() => (tmp = tempDir('crashes')));
  let nbd: RestartableNbdServer | undefined;
  afterEach(async () => {
    await cleanup();
    await nbd?.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it(`${ROUNDS} kills: 0 '+' sectors with wrong bytes or without checksum, 0 '+' sectors read again`, async () => {
    const image = patternImage(SIZE);
    const imagePath = path.join(tmp, 'medium.img');
    fs.writeFileSync(imagePath, image);
    // A slow drive: 40 ms per request, so each kill lands mid-acquisition. (Not the rate filter: nbdkit 1.32
    // aborts on `raw_send_socket: Assertion sock >= 0` when a client vanishes during its sleep.)
    nbd = new RestartableNbdServer(tmp, 'slow');
    await nbd.start(imagePath, ['delay'], ['rdelay=40ms']);
    const cache = path.join(tmp, 'cache');
    const mnt = path.join(tmp, 'mnt');
    const rnd = seededInts(12345);
    let plus: [number, number][] = [];
    let logged = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await nbd.restartIfDied(); // nbdkit's own abort when its client is killed mid-read (not the medium's doing)
      const pid = await mount(nbd.uri, mnt, ['--cache', cache]).catch((e: Error) => {
        throw new Error(`round ${round}: ${e.message}; ${nbd!.describe()}`);
      });
      const probes = new Set<number>(JSON.parse(fs.readFileSync(path.join(cache, 'identity.json'), 'utf8')).probeSectors);
      const before = rescuedBytes(mnt);
      const acq = start(process.execPath, [path.resolve(__dirname, '../../../src/cli/main.js'), 'acquire', mnt, '-q']);
      // The kill lands at a random moment once the acquisition reads (not while the CLI or the server starts).
      await acquisitionReading(mnt, before);
      await new Promise((r) => setTimeout(r, rnd(900)));
      process.kill(pid, 'SIGKILL');
      acq.child.kill('SIGKILL');
      await acq.result;
      for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 50));
      forgetServer(pid);
      const u = await blkfs(['umount', mnt], { timeoutMs: 30_000 });
      expect(u.code, `round ${round}: umount of the dead mount: ${u.stderr}`).to.equal(0);

      // Reads of this round: none may touch a sector that was '+' before it, except the identity samples.
      const reads = readNbdkitLog(nbd.logFile).reads.slice(logged);
      logged += reads.length;
      for (const r of reads) {
        for (const [a, b] of plus) {
          if (r.offset >= b || r.offset + r.count <= a) continue;
          const s = Math.floor(Math.max(a, r.offset) / 512);
          const e = Math.ceil(Math.min(b, r.offset + r.count) / 512);
          for (let x = s; x < e; x++) expect(probes.has(x), `round ${round}: sector ${x} was '+' and was read again`).to.equal(true);
        }
      }
      expectCacheFaithful(cache, image, `round ${round}`);
      const v = await blkfs(['verify', '--cache', cache, '--json']);
      expect(v.code, v.stderr).to.equal(0);
      const report = JSON.parse(v.stdout) as { adoptedBytes: number; damaged: unknown[] };
      expect(report.adoptedBytes, `round ${round}: '+' bytes without a checksum`).to.equal(0);
      const now = plusRanges(cache);
      const covered = (x: number) => now.some(([a, b]) => a <= x && x < b);
      for (const [a] of plus) expect(covered(a), `round ${round}: byte ${a} lost its '+'`).to.equal(true);
      plus = now;
      if (process.env.BLKFS_TEST_VERBOSE) console.log(`round ${round}: ${now.reduce((n, [a, b]) => n + b - a, 0)} bytes '+'`);
    }
    const total = plus.reduce((n, [a, b]) => n + b - a, 0);
    expect(total, 'the acquisitions made progress').to.be.greaterThan(SIZE / 8);
  });
});
