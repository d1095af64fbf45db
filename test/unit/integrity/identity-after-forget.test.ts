// A cache whose damaged bytes were forgotten (`blkfs verify --cache DIR --forget-damaged`, the remedy every damage
// message names) opens again with its medium and reads those bytes again. The identity check on reopening compares
// the medium with the cached copies of its probe sectors: a probe sector that is no longer '+' has no cached copy
// (its place in the data file holds the old damaged bytes, or zeros), so it proves nothing either way.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { verifyCacheDir } from '../../../src/cache/offline-verify';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/reopening a cache after --forget-damaged (a medium without a stable identity: a device, NBD)', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-forget-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A cache of `img` with every sector '+'; returns its directory and its identity probe sectors. */
  async function filled(img: Buffer): Promise<{ dir: string; probes: number[] }> {
    const dir = path.join(tmp, 'c');
    const dev = await openCache({ source: new MemorySource(img), cacheDir: dir });
    expect((await dev.read(0, SIZE)).data.equals(img)).to.equal(true);
    const probes = dev.identitySamples();
    await dev.close();
    return { dir, probes };
  }

  async function reopenAndRead(dir: string, img: Buffer): Promise<void> {
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheDir: dir });
    try {
      expect((await dev.read(0, SIZE)).data.equals(img), 'the medium, read again where it was forgotten').to.equal(true);
    } finally {
      await dev.close();
    }
  }

  it('a missing data file: forgotten, then the medium is read again (not refused as "a different medium")', async () => {
    const img = patternBuffer(SIZE, 11);
    const { dir } = await filled(img);
    fs.rmSync(path.join(dir, 'data.img'));
    expect((await verifyCacheDir(dir, { forgetDamaged: true })).forgottenBytes).to.equal(SIZE);
    await reopenAndRead(dir, img);
  });

  it('a missing data file is recreated 0600 by --forget-damaged, as every file of a cache is (it was 0644 under umask 022)', async () => {
    const { dir } = await filled(patternBuffer(SIZE, 16));
    fs.rmSync(path.join(dir, 'data.img'));
    const umask = process.umask(0o022);
    try {
      await verifyCacheDir(dir, { forgetDamaged: true });
    } finally {
      process.umask(umask);
    }
    expect(fs.statSync(path.join(dir, 'data.img')).mode & 0o777).to.equal(0o600);
  });

  it('a flipped byte in an identity probe sector: forgotten, then that sector is read again', async () => {
    const img = patternBuffer(SIZE, 12);
    const { dir, probes } = await filled(img);
    expect(probes.length).to.be.above(0);
    const at = probes[0] * 512 + 100;
    const fd = fs.openSync(path.join(dir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[at] ^ 0xff]), 0, 1, at);
    fs.closeSync(fd);
    expect((await verifyCacheDir(dir, { forgetDamaged: true })).forgottenBytes).to.be.above(0);
    await reopenAndRead(dir, img);
  });

  it('default cache root: a cache whose probe sector was forgotten is found again, not replaced by a new one', async () => {
    const img = patternBuffer(SIZE, 15);
    const root = path.join(tmp, 'root');
    const first = await openCache({ source: new MemorySource(img), cacheRoot: root });
    expect((await first.read(0, SIZE)).data.equals(img)).to.equal(true);
    const at = first.identitySamples()[0] * 512 + 3;
    await first.close();
    const fd = fs.openSync(path.join(first.cacheDir, 'data.img'), 'r+');
    fs.writeSync(fd, Buffer.from([img[at] ^ 0x01]), 0, 1, at);
    fs.closeSync(fd);
    expect((await verifyCacheDir(first.cacheDir, { forgetDamaged: true })).forgottenBytes).to.equal(512);
    const src = new MemorySource(img);
    const dev = await openCache({ source: src, cacheRoot: root });
    try {
      expect(dev.cacheDir).to.equal(first.cacheDir);
      const before = src.stats().bytes;
      expect((await dev.read(0, SIZE)).data.equals(img)).to.equal(true);
      expect(src.stats().bytes - before, 'only the forgotten sector is read again').to.equal(512);
    } finally {
      await dev.close();
    }
  });

  it('another medium of the same size is still refused', async () => {
    const { dir } = await filled(patternBuffer(SIZE, 13));
    const err = await openCache({ source: new MemorySource(patternBuffer(SIZE, 14)), cacheDir: dir }).catch((e: unknown) => e);
    expect((err as Error).name).to.equal('CacheMismatchError');
  });
});
