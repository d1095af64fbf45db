// Issue 8, reproduction 3: a damaged, truncated or missing data file is never served. blkfs verify finds each
// case and names the ranges (exit 2); a mount refuses a cache whose data file lost rescued bytes (exit 2, how
// much and how to go on); --forget-damaged marks them unread and the next mount reads them from the medium again.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { RestartableNbdServer } from '../../helpers/nbd-restart';
import { blkfs, cleanup, mount, readStatus, tempDir } from '../mount/harness';
import { patternBuffer } from '../../helpers/memory-source';
import { expectCacheFaithful, readOutcome, readRange, waitFor } from './cache-truth';

const SIZE = 2 * 1024 * 1024;
const MiB = 1024 * 1024;

interface Damage {
  offset: number;
  length: number;
  reason: string;
}

describe('integrity: fixity of the cache (CRC-32 per stored chunk, blkfs verify)', function () {
  this.timeout(60_000);
  let tmp: string;
  let A: Buffer;
  let img: string;
  let cache: string;
  let mnt: string;

  /** Mounts A with --cache, reads all of /raw (so every sector is '+'), unmounts. */
  async function fillCache(): Promise<void> {
    await mount(img, mnt, ['--cache', cache]);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(A)).to.equal(true);
    const r = await blkfs(['umount', mnt]);
    expect(r.code, r.stderr).to.equal(0);
  }

  async function verifyJson(args: string[]): Promise<{ code: number | null; report: { damaged: Damage[]; clean: boolean; checkedBytes: number } }> {
    const r = await blkfs(['verify', ...args, '--json']);
    return { code: r.code, report: JSON.parse(r.stdout) };
  }

  beforeEach(async () => {
    tmp = tempDir('fixity');
    A = patternBuffer(SIZE, 3);
    img = path.join(tmp, 'A.img');
    fs.writeFileSync(img, A);
    cache = path.join(tmp, 'cache');
    mnt = path.join(tmp, 'mnt');
    await fillCache();
  });

  afterEach(async () => {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a clean cache verifies clean (exit 0), offline and mounted, and /status shows the last verification', async () => {
    const off = await verifyJson(['--cache', cache]);
    expect(off.code).to.equal(0);
    expect(off.report.clean).to.equal(true);
    expect(off.report.checkedBytes).to.equal(SIZE);
    await mount(img, mnt, ['--cache', cache]);
    const on = await verifyJson([mnt]);
    expect(on.code).to.equal(0);
    expect(on.report.checkedBytes).to.equal(SIZE);
    const st = (await readStatus(mnt)) as unknown as { fixity: { lastVerification: { at: string; damagedBytes: number } } };
    expect(st.fixity.lastVerification.damagedBytes).to.equal(0);
    expect(Date.parse(st.fixity.lastVerification.at)).to.be.greaterThan(Date.now() - 60_000);
  });

  function flipByte(at: number): void {
    const fd = fs.openSync(path.join(cache, 'data.img'), 'r+');
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    b[0] ^= 0x01;
    fs.writeSync(fd, b, 0, 1, at);
    fs.closeSync(fd);
  }

  it('a flipped byte, medium attached: never served; the chunk is read again from the medium (logged, counted)', async () => {
    const at = MiB + 12345;
    flipByte(at);
    const off = await verifyJson(['--cache', cache]);
    expect(off.code).to.equal(2);
    expect(off.report.damaged).to.have.length(1);
    const d = off.report.damaged[0];
    expect(d.reason).to.equal('checksum');
    expect(d.offset).to.be.at.most(at);
    expect(d.offset + d.length).to.be.greaterThan(at);

    await mount(img, mnt, ['--cache', cache]);
    const raw = path.join(mnt, 'raw');
    expect((await readRange(raw, at - 100, 200)).equals(A.subarray(at - 100, at + 100)), 'the medium\'s bytes, not the flipped one').to.equal(true);
    const st = (await readStatus(mnt)) as unknown as { fixity: { repairs: number; damagedChunks: number } };
    expect(st.fixity.repairs).to.equal(1);
    expect(st.fixity.damagedChunks).to.equal(0);
    expect(fs.readFileSync(path.join(cache, 'mount.log'), 'utf8')).to.contain(`repair: cache damaged: bytes ${d.offset}..${d.offset + d.length}`);
    expect((await readRange(raw, 0, SIZE)).equals(A)).to.equal(true);
    expect((await blkfs(['verify', mnt, '-q'])).code).to.equal(0);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A)).to.equal(SIZE);
  });

  it('a flipped byte, medium gone: EIO (never the byte), counted in /status, named by verify (exit 2); --forget-damaged re-reads it later', async () => {
    const at = MiB + 999;
    flipByte(at);
    const srv = new RestartableNbdServer(tmp);
    await srv.start(img);
    try {
      await mount(srv.uri, mnt, ['--cache', cache]);
      await srv.kill(); // the medium is gone
      await waitFor('the mount to see the medium gone', async () => (((await readStatus(mnt)) as unknown as { medium: { state: string } }).medium.state !== 'present' ? true : undefined));
      const raw = path.join(mnt, 'raw');
      expect(await readOutcome(raw, at - 100, 200), 'the damaged chunk is not served').to.equal('EIO');
      expect((await readRange(raw, 0, 4096)).equals(A.subarray(0, 4096)), 'the rest is').to.equal(true);
      const st = (await readStatus(mnt)) as unknown as { fixity: { damagedChunks: number } };
      expect(st.fixity.damagedChunks).to.equal(1);
      const human = await blkfs(['verify', mnt, '-q']);
      expect(human.code).to.equal(2);
      expect(human.stderr).to.match(/damaged: bytes \d+\.\.\d+ \(\d+ bytes\): checksum mismatch/);
      expect((await blkfs(['umount', mnt])).code).to.equal(0);
    } finally {
      await srv.kill();
    }
    const forget = await blkfs(['verify', '--cache', cache, '--forget-damaged', '-q']);
    expect(forget.code, forget.stderr).to.equal(0);
    expect(forget.stderr).to.match(/marked unread/);
    await mount(img, mnt, ['--cache', cache]);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(A), 'read again from the medium').to.equal(true);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A)).to.equal(SIZE);
    expect((await blkfs(['verify', '--cache', cache, '-q'])).code).to.equal(0);
  });

  it('a truncated data file: mount refuses (exit 2, how much is gone, how to go on); verify names the range', async () => {
    fs.truncateSync(path.join(cache, 'data.img'), MiB);
    const m = await blkfs(['mount', img, mnt, '--cache', cache]);
    expect(m.code).to.equal(2);
    expect(m.stderr).to.match(/data\.img has 1048576 bytes, but rescued sectors reach byte 2097152: 1048576 bytes of rescued data/);
    expect(m.stderr).to.contain('--forget-damaged');
    const v = await verifyJson(['--cache', cache]);
    expect(v.code).to.equal(2);
    // Whole chunks are named: the one the cut went through starts at or before it.
    const lost = v.report.damaged.reduce((n, x) => n + x.length, 0);
    expect(lost).to.be.within(MiB, MiB + 1024 * 1024);
    expect(v.report.damaged[0].offset).to.be.at.most(MiB);
    expect(v.report.damaged[v.report.damaged.length - 1].offset + v.report.damaged[v.report.damaged.length - 1].length).to.equal(SIZE);
    expect((await blkfs(['verify', '--cache', cache, '--forget-damaged', '-q'])).code).to.equal(0);
    await mount(img, mnt, ['--cache', cache]);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(A)).to.equal(true);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A)).to.equal(SIZE);
  });

  it('a missing data file: mount refuses (exit 2) instead of serving zeros; verify names every range', async () => {
    fs.rmSync(path.join(cache, 'data.img'));
    const m = await blkfs(['mount', img, mnt, '--cache', cache]);
    expect(m.code).to.equal(2);
    expect(m.stderr).to.match(/data file data\.img is missing: 2097152 bytes of rescued data/);
    const v = await verifyJson(['--cache', cache]);
    expect(v.code).to.equal(2);
    expect(v.report.damaged.every((x) => x.reason === 'missing')).to.equal(true);
    expect(v.report.damaged.reduce((n, x) => n + x.length, 0)).to.equal(SIZE);
    expect((await blkfs(['verify', '--cache', cache, '--forget-damaged', '-q'])).code).to.equal(0);
    await mount(img, mnt, ['--cache', cache]);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(A)).to.equal(true);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A)).to.equal(SIZE);
  });
});
