// An NBD export whose minimum block size is 4096 gets a cache in 4096-byte sectors; a cache made earlier in
// 512-byte sectors (as blkfs did before it followed the export's minimum) is still this medium's cache: a remount
// without --block-size keeps it and its sector size, and reads none of its cached sectors from the device again.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { readRange } from '../integrity/cache-truth';
import { blkfs, cleanup, mount, NbdkitServer, patternImage, readStatus, startNbdkit, tempDir, umount, writeMedium } from './harness';

const MiB = 1 << 20;

interface Status {
  sectorSize: number;
  server: { cacheDir: string };
  identityProbe: { method: string; sectors: number };
}

describe('mount: a 512-byte cache of an export with a 4096-byte minimum block size, made before blkfs followed that minimum', function () {
  let dir: string;
  let image: Buffer;
  let nbd: NbdkitServer;

  before(async () => {
    dir = tempDir('sector-upgrade');
    image = patternImage(4 * MiB);
    const { imagePath, mapPath } = writeMedium(dir, image, []);
    nbd = await startNbdkit(dir, imagePath, mapPath, { minBlockSize: 4096 });
  });
  after(() => cleanup(dir));

  /** Mounts (the cache made in 512-byte sectors), reads the first MiB, unmounts; then remounts with `again`. */
  async function remountWithout(mnt: string, first: string[], again: string[], env?: NodeJS.ProcessEnv): Promise<{ made: Status; kept: Status; freshReads: number[] }> {
    await mount(nbd.uri, mnt, [...first, '--block-size', '512', '--readahead', '0'], env);
    const made = (await readStatus(mnt)) as unknown as Status;
    expect((await readRange(path.join(mnt, 'raw'), 0, MiB)).equals(image.subarray(0, MiB))).to.equal(true);
    await umount(mnt);
    const before = readNbdkitLog(nbd.logFile).reads.length;
    await mount(nbd.uri, mnt, [...again, '--readahead', '0'], env);
    const kept = (await readStatus(mnt)) as unknown as Status;
    expect((await readRange(path.join(mnt, 'raw'), 0, MiB)).equals(image.subarray(0, MiB))).to.equal(true);
    await umount(mnt);
    const freshReads = readNbdkitLog(nbd.logFile).reads.slice(before).map((r) => r.count);
    return { made, kept, freshReads };
  }

  it('found under the default cache root: kept in 512-byte sectors, and only its identity probe is read again', async () => {
    const env = { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') };
    const { made, kept, freshReads } = await remountWithout(path.join(dir, 'mnt-root'), [], [], env);
    expect(made.sectorSize).to.equal(512);
    expect(kept.server.cacheDir).to.equal(made.server.cacheDir);
    expect(kept.sectorSize).to.equal(512);
    const root = path.join(dir, 'xdg', 'blkfs');
    expect(fs.readdirSync(root).filter((n) => fs.existsSync(path.join(root, n, 'identity.json')))).to.have.length(1);
    // Each probe sector is one read (the server widens it to its 4096-byte block); the cached MiB is not read again.
    expect(kept.identityProbe.method).to.equal('probe');
    expect(freshReads).to.have.length(kept.identityProbe.sectors);
    expect(freshReads.every((n) => n === 4096)).to.equal(true);
    expect(fs.readFileSync(path.join(kept.server.cacheDir, 'mount.log'), 'utf8')).to.match(/made in 512-byte sectors/);
  });

  it('given with --cache: kept in 512-byte sectors instead of refused as another medium', async () => {
    const cache = path.join(dir, 'cache');
    const { made, kept, freshReads } = await remountWithout(path.join(dir, 'mnt-cache'), ['--cache', cache], ['--cache', cache]);
    expect(made.sectorSize).to.equal(512);
    expect(kept.server.cacheDir).to.equal(cache);
    expect(kept.sectorSize).to.equal(512);
    expect(freshReads).to.have.length(kept.identityProbe.sectors);
  });

  it('another medium: its 512-byte cache given with --cache is refused, and under the default root it gets a new cache in 4096-byte sectors', async () => {
    const other = patternImage(4 * MiB).fill(7, 0, 4096);
    const { imagePath, mapPath } = writeMedium(dir, other, [], 'other');
    const otherNbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'other', minBlockSize: 4096 });
    const mnt = path.join(dir, 'mnt-other');
    fs.mkdirSync(mnt, { recursive: true });
    const r = await blkfs(['mount', otherNbd.uri, mnt, '--cache', path.join(dir, 'cache')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/belongs to a different medium: sector \d+ of this medium differs/);
    // the default root holds the first test's 512-byte cache of the first medium: probed, not taken
    await mount(otherNbd.uri, mnt, ['--readahead', '0'], { ...process.env, XDG_CACHE_HOME: path.join(dir, 'xdg') });
    const st = (await readStatus(mnt)) as unknown as Status;
    expect(st.sectorSize).to.equal(4096);
    expect(st.identityProbe.method).to.equal('created');
    await umount(mnt);
  });
});
