// Issue 8, reproduction 2: two discs from one template (equal size, equal first 1 MiB) are told apart by the
// identity samples spread over the whole medium: B is refused A's --cache (exit 1) and, without --cache, gets its
// own cache. Nothing of A's cache is served for B.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachAllLoops } from '../../helpers/loop-device';
import { blkfs, cleanup, mount, readStatus, tempDir } from '../mount/harness';
import { writeTwinDiscs } from '../../helpers/twin-discs';
import { expectCacheFaithful, readRange } from './cache-truth';

const SIZE = 4 * 1024 * 1024;

describe('integrity: identity that two discs from one template cannot fool', function () {
  this.timeout(60_000);
  let tmp: string;
  let A: Buffer;
  let B: Buffer;
  let aPath: string;
  let bPath: string;

  beforeEach(() => {
    tmp = tempDir('identity');
    ({ A, B, aPath, bPath } = writeTwinDiscs(tmp, SIZE, 1024 * 1024, 5));
  });

  afterEach(async () => {
    await cleanup();
    await detachAllLoops();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("an image equal to A in its first 1 MiB is refused A's --cache (exit 1), for an image file and a loop device", async () => {
    const cache = path.join(tmp, 'cacheA');
    const mnt = path.join(tmp, 'mnt');
    await mount(aPath, mnt, ['--cache', cache]);
    expect((await readRange(path.join(mnt, 'raw'), 0, 2 * 1024 * 1024)).equals(A.subarray(0, 2 * 1024 * 1024))).to.equal(true);
    const st = (await readStatus(mnt)) as unknown as { identityProbe: { method: string } };
    expect(st.identityProbe.method).to.equal('created');
    expect((await blkfs(['umount', mnt])).code).to.equal(0);

    const r = await blkfs(['mount', bPath, mnt, '--cache', cache]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/belongs to a different medium: sector \d+ of this medium differs/);
    const ld = await attachLoop(bPath);
    const r2 = await blkfs(['mount', ld, mnt, '--cache', cache]);
    expect(r2.code, r2.stderr).to.equal(1);
    expect(r2.stderr).to.match(/belongs to a different medium/);
    expect(expectCacheFaithful(cache, A)).to.be.at.least(2 * 1024 * 1024);
  });

  it('without --cache the twin gets its own cache, and A (as a loop device) finds its own again', async () => {
    const env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'xdg') };
    const mnt = path.join(tmp, 'mnt');
    await mount(aPath, mnt, [], env);
    await readRange(path.join(mnt, 'raw'), 0, SIZE);
    const aCache = ((await readStatus(mnt)) as unknown as { server: { cacheDir: string } }).server.cacheDir;
    expect((await blkfs(['umount', mnt])).code).to.equal(0);

    await mount(bPath, mnt, [], env);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(B)).to.equal(true);
    const bCache = ((await readStatus(mnt)) as unknown as { server: { cacheDir: string } }).server.cacheDir;
    expect(bCache).to.not.equal(aCache);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);

    const ld = await attachLoop(aPath);
    await mount(ld, mnt, [], env);
    const st = (await readStatus(mnt)) as unknown as { server: { cacheDir: string }; identityProbe: { method: string; sectors: number } };
    expect(st.server.cacheDir).to.equal(aCache);
    expect(st.identityProbe.method).to.equal('probe');
    expect(st.identityProbe.sectors).to.be.at.most(48);
    expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(A)).to.equal(true);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
    expect(expectCacheFaithful(aCache, A)).to.equal(SIZE);
    expect(expectCacheFaithful(bCache, B)).to.equal(SIZE);
  });
});
