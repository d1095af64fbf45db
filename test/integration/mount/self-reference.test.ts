// A mount that points at itself or at another blkfs mount. What deadlocks or hides data is refused (exit 1) before
// anything is started or created: the cache (the default cache root, or the control socket's directory) inside the
// mountpoint would be created there, then hidden by the mount; a mountpoint inside the cache root would be scanned
// by its own server looking for a medium's cache at a media change (a synchronous read of its own mount: a
// deadlock), and read whole by anything that walks the caches; a mountpoint inside a blkfs mount hides that mount's
// views and keeps it from being unmounted. Reading another mount's /raw as a source, into a cache of its own, is
// allowed: a second copy of a rescue (the first mount still reads each sector from the device once).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, mount, patternImage, RunResult, tempDir, umount } from './harness';

describe('mount: self-referential layouts (real FUSE)', function () {
  let dir: string;
  let image: string;
  before(() => {
    dir = tempDir('mount-self-ref');
    image = path.join(dir, 'medium.img');
    fs.writeFileSync(image, patternImage(256 * 1024));
  });
  after(() => cleanup(dir));

  /** `blkfs mount`; one that succeeded where it should not is unmounted again before the test looks. */
  async function attempt(source: string, mnt: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<RunResult> {
    fs.mkdirSync(mnt, { recursive: true });
    const r = await blkfs(['mount', source, mnt, ...extra], { env: { ...process.env, ...env } });
    if (r.code === 0) await umount(mnt);
    return r;
  }

  it('a default cache root or a control socket directory inside the mountpoint is refused, and nothing is created there', async () => {
    const mnt = path.join(dir, 'mnt-holds-root');
    const r = await attempt(image, mnt, [], { XDG_CACHE_HOME: path.join(mnt, 'xdg') });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/cache root .*mnt-holds-root\/xdg\/blkfs lies inside the mountpoint/);
    expect(fs.readdirSync(mnt), 'nothing created in the mountpoint').to.deep.equal([]);
    const r2 = await attempt(image, mnt, ['--cache', path.join(dir, 'cache-sock')], { XDG_RUNTIME_DIR: path.join(mnt, 'run') });
    expect(r2.code, r2.stderr).to.equal(1);
    expect(r2.stderr).to.match(/control socket's directory .* lies inside the mountpoint/);
    expect(fs.readdirSync(mnt)).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'cache-sock')), 'no cache made either').to.equal(false);
  });

  it('a mountpoint inside the default cache root is refused (its server would scan its own mount for caches)', async () => {
    const xdg = path.join(dir, 'xdg-root');
    const mnt = path.join(xdg, 'blkfs', 'mnt');
    const r = await attempt(image, mnt, [], { XDG_CACHE_HOME: xdg });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/mountpoint .* lies inside the cache root/);
    expect(fs.readdirSync(path.join(xdg, 'blkfs')), 'no cache made').to.deep.equal(['mnt']);
  });

  it("another mount's /raw can be cached into a cache of its own; a mountpoint inside a blkfs mount, or on it, is refused", async () => {
    const a = path.join(dir, 'a');
    await mount(image, a, ['--cache', path.join(dir, 'cache-a')]);
    const b = path.join(dir, 'b');
    await mount(path.join(a, 'raw'), b, ['--cache', path.join(dir, 'cache-b')]);
    expect((await fs.promises.readFile(path.join(b, 'raw'))).equals(fs.readFileSync(image))).to.equal(true);
    await umount(b);
    const nested = await attempt(image, path.join(a, 'rescued'), ['--cache', path.join(dir, 'cache-n')]);
    expect(nested.code, nested.stderr).to.equal(1);
    expect(nested.stderr).to.match(/mountpoint .*a\/rescued lies inside the blkfs mount on .*\/a\b/);
    expect(fs.existsSync(path.join(dir, 'cache-n'))).to.equal(false);
    const onItself = await blkfs(['mount', path.join(a, 'raw'), a, '--cache', path.join(dir, 'cache-s')]);
    expect(onItself.code, onItself.stderr).to.equal(1);
    expect(onItself.stderr).to.match(/mountpoint is in use|already a blkfs mount/);
    await umount(a);
  });
});
