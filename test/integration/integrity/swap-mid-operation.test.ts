// Discs swapped (LOOP_CHANGE_FD on a real loop device) while a sequential reader's readahead, an acquisition or the
// sector-by-sector narrowing of a bad area is under way, on a slow "drive" (nbdkit delay filter) so that reads are
// in flight when the swap lands. Whatever is handed up or stored is the first disc's; when it comes back, what its
// cache held is not read again (only its identity samples).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachAllLoops, swapLoop } from '../../helpers/loop-device';
import { blkfs, cleanup, mapBlocks, mount, readStatus, start, tempDir, MAIN_JS } from '../mount/harness';
import { writeTwinDiscs } from '../../helpers/twin-discs';
import { expectCacheFaithful, readRange, waitFor } from './cache-truth';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;
type Status = { server: { cacheDir: string }; medium: { state: string }; bytesCached: number };
const status = async (mnt: string) => (await readStatus(mnt)) as unknown as Status;

/** Device reads logged by nbdkit's log filter. */
function logReads(log: string): { offset: number; count: number }[] {
  return [...fs.readFileSync(log, 'utf8').matchAll(/Read id=\d+ offset=(0x[0-9a-f]+|\d+) count=(0x[0-9a-f]+|\d+)/g)].map((m) => ({ offset: Number(m[1]), count: Number(m[2]) }));
}

/** Bytes of `reads` inside the '+' ranges of a mapfile. */
function bytesReadAgain(reads: { offset: number; count: number }[], mapfile: string): number {
  const held = mapBlocks(mapfile).filter((b) => b.status === '+');
  let n = 0;
  for (const r of reads) for (const b of held) n += Math.max(0, Math.min(b.pos + b.size, r.offset + r.count) - Math.max(b.pos, r.offset));
  return n;
}

describe('integrity: a disc swapped while reads are in flight (real loop device, slow nbdkit, real FUSE)', function () {
  this.timeout(90_000);
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  let A: Buffer;
  let B: Buffer;
  let aPath: string;
  let bPath: string;
  let log: string;

  beforeEach(() => {
    tmp = tempDir('swap-mid');
    env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'xdg') };
    ({ A, B, aPath, bPath } = writeTwinDiscs(tmp, SIZE, MiB, 11));
    log = path.join(tmp, 'reads.log');
  });

  afterEach(async () => {
    await cleanup();
    await detachAllLoops();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const slow = (extra: string[] = []) => ['--nbdkit-filter', 'log', '--nbdkit-filter', `logfile=${log}`, '--nbdkit-filter', 'logappend=true', ...extra, '--nbdkit-filter', 'delay', '--nbdkit-filter', 'delay-read=25ms'];

  it('a sequential reader with readahead: never a byte of B through its handle; back in, A resumes reading only its identity samples again', async () => {
    const ld = await attachLoop(aPath);
    const mnt = path.join(tmp, 'mnt');
    await mount(ld, mnt, slow(), env);
    const raw = path.join(mnt, 'raw');
    const aCache = (await status(mnt)).server.cacheDir;
    const fh = await fs.promises.open(raw, 'r');
    const wrong: number[] = [];
    try {
      for (let off = 0; off < SIZE; off += 64 * 1024) {
        if (off === 3 * MiB) await swapLoop(ld, bPath); // readahead is ahead of the reader, reading A
        const buf = Buffer.alloc(64 * 1024);
        const n = await fh.read(buf, 0, buf.length, off).then((r) => r.bytesRead, (e: NodeJS.ErrnoException) => e.errno ?? 0);
        if (n !== -123 && !buf.subarray(0, n).equals(A.subarray(off, off + n))) wrong.push(off); // ENOMEDIUM or A
      }
    } finally {
      await fh.close();
    }
    expect(wrong, 'offsets answered with bytes other than A').to.deep.equal([]);
    await waitFor('the mount to follow the drive to B', async () => ((await status(mnt)).server.cacheDir !== aCache ? true : undefined));
    expect((await readRange(raw, 0, SIZE)).equals(B)).to.equal(true);
    const r0 = await blkfs(['export', '--cache', aCache, path.join(tmp, 'a.img'), path.join(tmp, 'a.map')], { env });
    expect(r0.code, r0.stderr).to.equal(0);
    const before = logReads(log).length;
    await swapLoop(ld, aPath);
    await waitFor('the mount to come back to A', async () => ((await status(mnt)).server.cacheDir === aCache ? true : undefined));
    expect((await readRange(raw, 0, SIZE)).equals(A)).to.equal(true);
    // identity samples: once by the watch, once more when A's cache is found again (at most 48 each)
    expect(bytesReadAgain(logReads(log).slice(before), fs.readFileSync(path.join(tmp, 'a.map'), 'utf8'))).to.be.at.most(2 * 48 * 512);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(aCache, A, 'A cache')).to.equal(SIZE);
  });

  it('an acquisition with --cache: stops at the swap (exit 2), A back, a second acquisition reads nothing A holds', async () => {
    const ld = await attachLoop(aPath);
    const mnt = path.join(tmp, 'mnt');
    const cache = path.join(tmp, 'cacheA');
    // 2 MB/s (nbdkit's rate filter counts bits): the acquisition lasts ~4 s, so the swap lands in it on a loaded
    // machine too (at 4 MB/s it finished first in 2 runs of the suite beside other work; with the delay alone its
    // 1 MiB spans went by faster than /status was polled). The filter's burst is cut short: by default a full bucket
    // of 2 s at that rate served the whole 8 MiB at once.
    await mount(ld, mnt, ['--cache', cache, ...slow(['--nbdkit-filter', 'rate', '--nbdkit-filter', 'rate=16M', '--nbdkit-filter', 'burstiness=0.1'])], env);
    const acq = start(process.execPath, [MAIN_JS, 'acquire', mnt], { env });
    await waitFor('part of A acquired', async () => ((await status(mnt)).bytesCached > 2 * MiB ? true : undefined), 30_000);
    await swapLoop(ld, bPath);
    const r = await acq.result;
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/medium in \/dev\/loop\d+ changed/);
    await new Promise((res) => setTimeout(res, 1500)); // write-behind committed, B judged foreign
    const held = fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8');
    const before = logReads(log).length;
    await swapLoop(ld, aPath);
    await waitFor('A to be identified again', async () => ((await status(mnt)).medium.state === 'present' ? true : undefined));
    const r2 = await blkfs(['acquire', mnt], { env });
    expect(r2.code, r2.stderr).to.equal(0);
    expect(bytesReadAgain(logReads(log).slice(before), held)).to.be.at.most(48 * 512);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A, 'A cache')).to.equal(SIZE);
  });

  it('narrowing a failed read sector by sector: the swap marks nothing bad that is not, A back finds the bad sector', async () => {
    const badAt = 3 * MiB + 32 * 1024; // two bad sectors (nbdkit ddrescue filter), whichever disc is in
    const hex = (n: number) => `0x${n.toString(16)}`;
    fs.writeFileSync(path.join(tmp, 'bad.map'), `0 ?\n0 ${hex(badAt)} +\n${hex(badAt)} 0x400 -\n${hex(badAt + 1024)} ${hex(SIZE - badAt - 1024)} +\n`);
    const ld = await attachLoop(aPath);
    const mnt = path.join(tmp, 'mnt');
    const cache = path.join(tmp, 'cacheA');
    await mount(ld, mnt, ['--cache', cache, '--readahead', '0', ...slow(['--nbdkit-filter', 'ddrescue', '--nbdkit-filter', `ddrescue-mapfile=${path.join(tmp, 'bad.map')}`])], env);
    const raw = path.join(mnt, 'raw');
    const reading = readRange(raw, 3 * MiB, 128 * 1024).then(() => 'ok', (e: NodeJS.ErrnoException) => e.code);
    await waitFor('narrowing under way', async () => (logReads(log).filter((r) => r.count === 512 && r.offset >= 3 * MiB).length >= 8 ? true : undefined));
    await swapLoop(ld, bPath);
    expect(await reading).to.not.equal('ok');
    await new Promise((res) => setTimeout(res, 1500));
    const bad = () => mapBlocks(fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8')).filter((b) => b.status === '-');
    expect(bad(), 'marked bad while B was in').to.deep.equal([]);
    await swapLoop(ld, aPath);
    await waitFor('A to be identified again', async () => ((await status(mnt)).medium.state === 'present' ? true : undefined));
    expect(await readRange(raw, 3 * MiB, 128 * 1024).then(() => 'ok', (e: NodeJS.ErrnoException) => e.code)).to.equal('EIO');
    expect(bad().map((b) => [b.pos, b.size])).to.deep.equal([[badAt, 512]]);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(cache, A, 'A cache')).to.be.at.least(32 * 1024);
  });
});
