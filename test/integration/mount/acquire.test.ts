// blkfs acquire on the real stack: the live /mapfile is a valid ddrescue mapfile at every moment, its '+'
// domain holds the medium's bytes, and a server killed -9 mid-acquisition loses nothing durable.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog, Range } from '../../helpers/nbdkit-log';
import {
  BadRange,
  blkfs,
  cleanup,
  forgetServer,
  MAIN_JS,
  mount,
  patternImage,
  rangesWithStatus,
  readStatus,
  run,
  sleep,
  start,
  startNbdkit,
  tempDir,
  umount,
  writeMedium,
} from './harness';

const SIZE = 64 << 20;
const BAD: BadRange[] = [
  { offset: 0x500000, length: 0x3000 },
  { offset: 0x2100400, length: 0x200 },
  { offset: 0x3a00000, length: 0x10000 },
];
const BAD_BYTES = BAD.reduce((n, b) => n + b.length, 0);
// A delay per device request (the kill -9 test); the others limit bandwidth, since the copying pass reads 4 MiB at a time.
const RDELAY = '12ms';

function sameBytes(a: Buffer, b: Buffer, ranges: Range[]): boolean {
  return ranges.every((r) => a.subarray(r.offset, r.offset + r.length).equals(b.subarray(r.offset, r.offset + r.length)));
}

/** Bytes of `reads` (counted with repetition) that fall inside `ranges` (disjoint). */
function overlapBytes(reads: Range[], ranges: Range[]): number {
  let n = 0;
  for (const x of reads) {
    for (const y of ranges) n += Math.max(0, Math.min(x.offset + x.length, y.offset + y.length) - Math.max(x.offset, y.offset));
  }
  return n;
}

/** Resolves once /status shows at least `fraction` of the medium settled ('+' or '-'). */
async function waitForProgress(mnt: string, fraction: number): Promise<void> {
  for (;;) {
    const s = await readStatus(mnt);
    if ((s.bytesCached + s.bytesBad) / s.size >= fraction) return;
    await sleep(50);
  }
}

describe('mount: blkfs acquire on a slow medium (real FUSE, nbdkit, ddrescue)', function () {
  let dir: string;
  let image: Buffer;
  let imagePath: string;
  let mapPath: string;

  before(() => {
    dir = tempDir('mount-acq');
    image = patternImage(SIZE);
    ({ imagePath, mapPath } = writeMedium(dir, image, BAD));
  });

  after(() => cleanup(dir));

  it('ddrescuelog -t and ddrescue -m accept /mapfile during the acquisition; the + domain copied from /raw equals the medium', async () => {
    // limited bandwidth (80 Mbit/s) rather than a delay per request: the copying pass streams in large reads
    const nbd = await startNbdkit(dir, imagePath, mapPath, { rate: '80M', tag: 'live' });
    const mnt = path.join(dir, 'mnt-live');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-live')]);
    const acquiring = blkfs(['acquire', '-q', mnt]);
    const domains: number[] = [];
    for (const [i, fraction] of [0.2, 0.5, 0.8].entries()) {
      await waitForProgress(mnt, fraction);
      const live = path.join(mnt, 'mapfile');
      const log = await run('ddrescuelog', ['-t', live]);
      expect(log.code, log.stderr).to.equal(0);
      expect(log.stdout).to.match(/rescued:/);
      // ddrescue reads the domain map once, at start: only what the cache held then is copied
      const out = path.join(dir, `domain${i}.img`);
      const outMap = path.join(dir, `domain${i}.map`);
      const r = await run('ddrescue', ['-d', '-b512', '-q', '-m', live, path.join(mnt, 'raw'), out, outMap]);
      expect(r.code, r.stderr).to.equal(0);
      const rescued = rangesWithStatus(fs.readFileSync(outMap, 'utf8'), '+');
      expect(rescued.length).to.be.greaterThan(0);
      expect(sameBytes(image, fs.readFileSync(out), rescued)).to.equal(true);
      expect(rangesWithStatus(fs.readFileSync(outMap, 'utf8'), '-')).to.deep.equal([]); // nothing in the domain failed
      domains.push(rescued.reduce((n, x) => n + x.length, 0));
    }
    expect(domains[1]).to.be.greaterThan(domains[0]);
    expect(domains[2]).to.be.greaterThan(domains[1]);
    const done = await acquiring;
    expect(done.code, done.stderr).to.equal(0);
    const final = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(rangesWithStatus(final, '-')).to.deep.equal(BAD);
    expect(readNbdkitLog(nbd.logFile).okBytes).to.equal(SIZE - BAD_BYTES);
  });

  it('Ctrl-C in blkfs acquire stops the acquisition cleanly: exit 130, the server keeps serving, the device goes quiet', async () => {
    const nbd = await startNbdkit(dir, imagePath, mapPath, { rate: '80M', tag: 'sigint' }); // mid-copy at 20%, with large reads
    const mnt = path.join(dir, 'mnt-sigint');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-sigint')]);
    const acq = start(process.execPath, [MAIN_JS, 'acquire', mnt]);
    await waitForProgress(mnt, 0.2);
    acq.child.kill('SIGINT');
    const r = await acq.result;
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr).to.match(/stopping the acquisition/);
    expect(r.stderr).to.match(/acquisition stopped; run again to resume/);
    const s = await readStatus(mnt);
    expect(s.acquiring).to.equal(false);
    expect(s.bytesUntried).to.be.greaterThan(0);
    const reads = readNbdkitLog(nbd.logFile).reads.length;
    await sleep(300);
    expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(reads);

    // An unmount under a running acquire is not a success: exit 2, saying how to resume.
    const again = start(process.execPath, [MAIN_JS, 'acquire', '-q', mnt]);
    while (!(await readStatus(mnt)).acquiring) await sleep(20); // its passes run (the progress alone may predate it)
    await waitForProgress(mnt, 0.5);
    await umount(mnt);
    const cut = await again.result;
    expect(cut.code, cut.stderr).to.equal(2);
    expect(cut.stderr).to.contain(`the acquisition on ${mnt} was stopped before the end (the mount went away)`);
  });

  it('kill -9 of the server mid-acquisition, then remount: + sectors hold the medium, none is read again, acquire completes', async () => {
    let nbd = await startNbdkit(dir, imagePath, mapPath, { rdelay: RDELAY, tag: 'crash1' });
    const mnt = path.join(dir, 'mnt-crash');
    const cache = path.join(dir, 'cache-crash');
    const pid = await mount(nbd.uri, mnt, ['--cache', cache]);
    const acquiring = blkfs(['acquire', '-q', mnt]);
    await waitForProgress(mnt, 0.4);
    process.kill(pid, 'SIGKILL');
    forgetServer(pid);
    const interrupted = await acquiring;
    expect(interrupted.code).to.equal(2); // the server vanished under it
    // nbdkit 1.32 may abort when a client vanishes with reads in flight: serve the medium afresh.
    await nbd.stop();
    nbd = await startNbdkit(dir, imagePath, mapPath, { rdelay: RDELAY, tag: 'crash2' });
    // The dead FUSE mount (ENOTCONN): status and acquire say how to clear it (exit 1); umount detaches it.
    for (const cmd of [['status', mnt], ['acquire', mnt]]) {
      const dead = await blkfs(cmd);
      expect(dead.code, dead.stderr).to.equal(1);
      expect(dead.stderr).to.contain(`the blkfs server of ${mnt} is gone (a dead mount): run blkfs umount ${mnt}`);
    }
    await umount(mnt);
    await mount(nbd.uri, mnt, ['--cache', cache]);

    const state = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    const durable = rangesWithStatus(state, '+');
    expect(durable.reduce((n, r) => n + r.length, 0)).to.be.greaterThan(SIZE * 0.3);
    expect(sameBytes(image, fs.readFileSync(path.join(cache, 'data.img')), durable)).to.equal(true);

    const done = await blkfs(['acquire', '-q', mnt]);
    expect(done.code, done.stderr).to.equal(0);
    const final = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(rangesWithStatus(final, '-')).to.deep.equal(BAD);
    expect(rangesWithStatus(final, '+').reduce((n, r) => n + r.length, 0)).to.equal(SIZE - BAD_BYTES);
    expect(sameBytes(image, fs.readFileSync(path.join(cache, 'data.img')), rangesWithStatus(final, '+'))).to.equal(true);

    // After the remount, the only durable bytes the device gave again are the identity probe's, exactly.
    const probe = (await readStatus(mnt)).identityProbe as unknown as { method: string; bytes: number };
    expect(probe.method).to.equal('probe');
    expect(overlapBytes(readNbdkitLog(nbd.logFile).ok, durable)).to.equal(probe.bytes);
  });
});
