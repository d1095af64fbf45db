// An identity probe sector whose cached copy is damaged (a flipped bit in the data file, caught by its checksum) is
// damage in the cache, not another medium: the cache still opens for its medium, the damage is refused when served
// (or read again from the medium: a repair), and the rest of the medium is never read again. Before, the probe
// called the right medium "a different medium": with --cache the mount was refused, and without it a new cache was
// made and the whole medium read again beside the old one.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { ChunkDamagedError } from '../../../src/cache/fixity';
import { GuardedSource, MediumLook } from '../../../src/source/medium-watch';
import { MediumFollower } from '../../../src/server/medium-follower';
import { Log } from '../../../src/server/log';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/a damaged identity probe sector in the cache', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dprobe-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** Fills a cache of `img` (every sector '+'), then flips one byte of its first probe sector in the data file. */
  async function damaged(img: Buffer, where: { cacheDir: string } | { cacheRoot: string }): Promise<{ dir: string; at: number }> {
    const dev = await openCache({ source: new MemorySource(img), ...where });
    expect((await dev.read(0, SIZE)).data.equals(img)).to.equal(true);
    const at = dev.identitySamples()[0] * 512 + 7;
    await dev.close();
    const fd = fs.openSync(path.join(dev.cacheDir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[at] ^ 0x10]), 0, 1, at);
    fs.closeSync(fd);
    return { dir: dev.cacheDir, at };
  }

  it('--cache: the cache opens; the damaged bytes are refused, never served; nothing else is read again', async () => {
    const img = patternBuffer(SIZE, 21);
    const { dir, at } = await damaged(img, { cacheDir: path.join(tmp, 'c') });
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir });
    try {
      const err = await dev.read(at - 7, 512).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ChunkDamagedError);
      const before = src.stats().bytes;
      const rest = at - 7 + 512;
      expect((await dev.read(rest, SIZE - rest)).data.equals(img.subarray(rest))).to.equal(true);
      expect(src.stats().bytes, 'no cached sector read again').to.equal(before);
    } finally {
      await dev.close();
    }
  });

  it('--cache with repair allowed (a mount with its medium present): the damaged sector is read again, once', async () => {
    const img = patternBuffer(SIZE, 22);
    const { dir } = await damaged(img, { cacheDir: path.join(tmp, 'c') });
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir, canRepair: () => true });
    try {
      const before = src.stats().bytes;
      expect((await dev.read(0, SIZE)).data.equals(img)).to.equal(true);
      expect(src.stats().bytes - before, 'only the damaged chunk (one sector) is read again').to.equal(512);
    } finally {
      await dev.close();
    }
  });

  it('default cache root: the same cache is found again, not a new one that reads the medium again', async () => {
    const img = patternBuffer(SIZE, 23);
    const root = path.join(tmp, 'root');
    const { dir } = await damaged(img, { cacheRoot: root });
    const dev = await openCache({ source: new MemorySource(img), cacheRoot: root });
    try {
      expect(dev.cacheDir).to.equal(dir);
      expect(fs.readdirSync(root)).to.have.length(1);
    } finally {
      await dev.close();
    }
  });

  it('another medium of the same size is still refused (--cache) and gets its own cache (default root)', async () => {
    const a = patternBuffer(SIZE, 24);
    const b = patternBuffer(SIZE, 25);
    const { dir } = await damaged(a, { cacheDir: path.join(tmp, 'c') });
    const err = await openCache({ source: new MemorySource(b), cacheDir: dir }).catch((e: unknown) => e);
    expect((err as Error).name).to.equal('CacheMismatchError');
    const root = path.join(tmp, 'root');
    const { dir: inRoot } = await damaged(a, { cacheRoot: root });
    const devB = await openCache({ source: new MemorySource(b), cacheRoot: root });
    try {
      expect(devB.cacheDir).to.not.equal(inRoot);
    } finally {
      await devB.close();
    }
  });

  it('mounted: the medium back in the drive is identified by its other samples, and reads resume', async () => {
    const img = patternBuffer(SIZE, 26);
    const dir = path.join(tmp, 'c');
    // An image file's stable identity skips the probe on reopening: the damage is first met by a re-identification.
    const made = await openCache({ source: new MemorySource(img), cacheDir: dir, spreadSamples: true, stableIdentity: 'file:1:2' });
    expect((await made.read(0, SIZE)).data.equals(img)).to.equal(true);
    const samples = made.identitySamples();
    await made.close();
    const at = samples[samples.length - 1] * 512 + 9; // a spread sample, outside the first 64 KiB
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[at] ^ 0x40]), 0, 1, at);
    fs.closeSync(fd);
    let look: MediumLook = { token: 'disc-A', size: SIZE };
    const guarded = new GuardedSource(new MemorySource(img), () => look, 'test drive');
    const dev = await openCache({ source: guarded, cacheDir: dir, spreadSamples: true, stableIdentity: 'file:1:2' });
    try {
      const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
      look = { token: null };
      guarded.poll();
      look = { token: 'disc-A again', size: SIZE };
      guarded.poll();
      await follower.tick();
      expect(follower.status().lastVerdict).to.match(/^same medium/);
      expect(guarded.current).to.equal('present');
      expect((await dev.read(0, 4096)).data.equals(img.subarray(0, 4096))).to.equal(true);
      expect(await dev.read(at - 9, 512).catch((e: unknown) => e), 'the damaged sample is still never served').to.be.instanceOf(ChunkDamagedError);
    } finally {
      await dev.close();
    }
  });
});
