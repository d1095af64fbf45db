// Bad input to the mount-side commands: a clear message, the right exit code (1 user input, 2 failure
// during the operation), and nothing lost.
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { processAlive } from '../../../src/cli/mount-target';
import { mountAt } from '../../../src/fuse/mountinfo';
import { blkfs, cleanup, mount, patternImage, rangesWithStatus, readStatus, run, tempDir, umount } from './harness';

const SIZE = 16 << 20;

describe('mount: bad input and failures (real FUSE)', function () {
  let dir: string;
  let imageA: string;
  let mnt: string;
  let tmpfs: string | undefined;

  before(() => {
    dir = tempDir('mount-bad');
    imageA = path.join(dir, 'a.img');
    fs.writeFileSync(imageA, patternImage(SIZE));
    mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
  });

  after(async () => {
    await cleanup();
    if (tmpfs && mountAt(tmpfs)) await run('umount', [tmpfs]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a missing device is exit 1 with the path named, and nothing is mounted', async () => {
    const r = await blkfs(['mount', '/dev/blkfs-no-such-device', mnt]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/SOURCE not found: \/dev\/blkfs-no-such-device/);
    expect(mountAt(mnt)).to.equal(undefined);
  });

  it('a directory as SOURCE is exit 1', async () => {
    const r = await blkfs(['mount', dir, mnt]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/SOURCE is a directory/);
  });

  it('an empty (0-byte) medium is exit 1 saying so, and no cache directory is made for it', async () => {
    const empty = path.join(dir, 'empty.img');
    fs.writeFileSync(empty, '');
    const xdg = path.join(dir, 'xdg-empty');
    const r = await blkfs(['mount', empty, mnt], { env: { ...process.env, XDG_CACHE_HOME: xdg } });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.include(`${empty} is empty (0 bytes)`);
    expect(mountAt(mnt)).to.equal(undefined);
    const root = path.join(xdg, 'blkfs');
    expect(fs.existsSync(root) ? fs.readdirSync(root).filter((n) => n !== 'run') : []).to.deep.equal([]);
  });

  it('an NBD URI where nothing listens is exit 1', async () => {
    const r = await blkfs(['mount', `nbd+unix:///?socket=${dir}/nobody.sock`, mnt]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/nobody\.sock/);
  });

  it('an NBD export name the server does not know is exit 1 naming it, like a server that is not there', async () => {
    const sock = path.join(dir, 'named.sock');
    const nbdkit = spawn('nbdkit', ['-f', '-r', '-U', sock, '--filter=exportname', 'file', imageA, 'exportname-strict=true', 'exportname=disc1'], { stdio: 'ignore' });
    try {
      for (const until = Date.now() + 10_000; !fs.existsSync(sock) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      const r = await blkfs(['mount', '--cache', path.join(dir, 'named-cache'), `nbd+unix:///disc2?socket=${sock}`, mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/export 'disc2' refused \(unknown export/);
      expect(mountAt(mnt)).to.equal(undefined);
    } finally {
      nbdkit.kill('SIGTERM');
    }
  });

  it('an NBD server that requires TLS is exit 1 saying blkfs speaks NBD without TLS and how to reach it', async () => {
    const sock = path.join(dir, 'tls.sock');
    const nbdkit = spawn('nbdkit', ['-f', '-r', '-U', sock, '--tls=require', '--tls-psk=/dev/null', 'file', imageA], { stdio: 'ignore' });
    try {
      for (const until = Date.now() + 10_000; !fs.existsSync(sock) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      const r = await blkfs(['mount', '--cache', path.join(dir, 'tls-cache'), `nbd+unix:///?socket=${sock}`, mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/refused \(TLS required\): blkfs speaks NBD without TLS; reach it through a local nbdkit/);
      expect(mountAt(mnt)).to.equal(undefined);
    } finally {
      nbdkit.kill('SIGTERM');
    }
  });

  it('an oldstyle or non-fixed newstyle NBD server is exit 1 saying blkfs needs fixed newstyle; nbdkit in front, as the message says, mounts', async () => {
    const serve = async (name: string, args: string[]) => {
      const sock = path.join(dir, `${name}.sock`);
      const child = spawn('nbdkit', ['-f', '-r', '-U', sock, ...args], { stdio: 'ignore' });
      for (const until = Date.now() + 10_000; !fs.existsSync(sock) && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20));
      return { sock, child };
    };
    const servers = [await serve('oldstyle', ['-o', 'file', imageA]), await serve('plain-newstyle', ['--mask-handshake=0', 'file', imageA])];
    try {
      const said = [/the oldstyle NBD handshake/, /the newstyle NBD handshake without the fixed newstyle flag/];
      for (const [i, { sock }] of servers.entries()) {
        const r = await blkfs(['mount', '--cache', path.join(dir, 'hs-cache'), `nbd+unix:///?socket=${sock}`, mnt]);
        expect(r.code, r.stderr).to.equal(1);
        expect(r.stderr).to.match(said[i]);
        expect(r.stderr).to.contain(`blkfs needs the fixed newstyle handshake; put nbdkit in front of this server (its nbd plugin speaks every handshake): nbdkit -r -U SOCK nbd socket=${sock}, then mount nbd+unix:///?socket=SOCK`);
        expect(mountAt(mnt)).to.equal(undefined);
      }
      const front = await serve('front', ['nbd', `socket=${servers[0].sock}`]);
      servers.push(front);
      await mount(`nbd+unix:///?socket=${front.sock}`, mnt, ['--cache', path.join(dir, 'hs-cache'), '--readahead', '0']);
      const head = Buffer.alloc(4096);
      const fh = await fs.promises.open(path.join(mnt, 'raw'), 'r');
      await fh.read(head, 0, 4096, 0).finally(() => fh.close());
      await umount(mnt);
      expect(head.equals(fs.readFileSync(imageA).subarray(0, 4096))).to.equal(true);
    } finally {
      for (const { child } of servers.reverse()) child.kill('SIGTERM');
    }
  });

  it("a cache's own data file as SOURCE is exit 1 (its unread sectors would be stored as zeros), with or without --cache", async () => {
    const cache = path.join(dir, 'cache-self');
    await mount(imageA, mnt, ['--cache', cache, '--readahead', '0']);
    await run('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=64k', 'count=1', 'iflag=direct']);
    await umount(mnt);
    const before = fs.readFileSync(path.join(cache, 'state.sqlite'));
    for (const extra of [['--cache', cache], []]) {
      const r = await blkfs(['mount', ...extra, path.join(cache, 'data.img'), mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`it is a file of the blkfs cache "${cache}"`);
      expect(mountAt(mnt)).to.equal(undefined);
    }
    expect(fs.readFileSync(path.join(cache, 'state.sqlite')).equals(before)).to.equal(true);
  });

  it('a mountpoint that is a file, or missing, is exit 1', async () => {
    expect((await blkfs(['mount', imageA, imageA])).code).to.equal(1);
    const r = await blkfs(['mount', imageA, path.join(dir, 'nowhere')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/mountpoint does not exist/);
  });

  it('--cache naming a file, or a directory holding files a new cache would overwrite, is exit 1 and they stay intact', async () => {
    const own = path.join(dir, 'own');
    fs.mkdirSync(own);
    fs.writeFileSync(path.join(own, 'data.img'), 'someone else\'s image');
    try {
      const notDir = await blkfs(['mount', imageA, mnt, '--cache', imageA]);
      expect(notDir.code, notDir.stderr).to.equal(1);
      expect(notDir.stderr).to.contain(`cache ${imageA} is not a directory`);
      const foreign = await blkfs(['mount', imageA, mnt, '--cache', own]);
      expect(foreign.code, foreign.stderr).to.equal(1);
      expect(foreign.stderr).to.match(/is not a blkfs cache, yet it holds a file "data\.img"/);
      expect(fs.readFileSync(path.join(own, 'data.img'), 'utf8')).to.equal('someone else\'s image');
      expect(fs.readFileSync(imageA)).to.deep.equal(patternImage(SIZE));
      expect(mountAt(mnt)).to.equal(undefined);
    } finally {
      if (mountAt(mnt)) await umount(mnt);
    }
  });

  it('--cache inside the mountpoint is exit 1 before anything is created, and the mountpoint stays empty', async () => {
    const r = await blkfs(['mount', imageA, mnt, '--cache', path.join(mnt, 'cache')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`lies inside the mountpoint ${mnt}, where the mount would hide it`);
    expect(fs.readdirSync(mnt)).to.deep.equal([]);
    expect(mountAt(mnt)).to.equal(undefined);
  });

  it('--readahead below 64K (but not 0) is exit 1 naming the accepted range, and nothing is mounted', async () => {
    for (const size of ['1', '2048', '63K']) {
      const r = await blkfs(['mount', imageA, mnt, '--cache', path.join(dir, 'cache-ra'), '--readahead', size]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain('--readahead must be 0 (off) or a size from 64K to 32M');
    }
    expect(mountAt(mnt)).to.equal(undefined);
    expect(fs.existsSync(path.join(dir, 'cache-ra'))).to.equal(false);
  });

  it('--block-size that is not an accepted sector size (abc, 1000) is exit 1 listing the accepted ones (import, mount)', async () => {
    const accepted = '--block-size must be a power of two from 512 to 65536 bytes: 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536';
    for (const size of ['abc', '1000']) {
      const r = await blkfs(['import', '--source', imageA, '--block-size', size, imageA, path.join(dir, 'none.map')]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`argument '${size}' is invalid. ${accepted}`);
    }
    const r = await blkfs(['mount', '--block-size', 'abc', '--cache', path.join(dir, 'cache-bs'), imageA, mnt]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`argument 'abc' is invalid. ${accepted}`);
    expect(mountAt(mnt)).to.equal(undefined);
    expect(fs.existsSync(path.join(dir, 'cache-bs'))).to.equal(false);
  });

  it('archive --part-size outside 5M..1G (S3\'s smallest part; a part is held and hashed in one piece) is exit 1 naming the limit, before any mount is looked at', async () => {
    for (const size of ['6G', '2G', '1025M']) {
      const r = await blkfs(['archive', '--part-size', size, mnt, path.join(dir, 'bags')]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`argument '${size}' is invalid. --part-size must be at most 1G`);
    }
    const small = await blkfs(['archive', '--part-size', '1K', mnt, path.join(dir, 'bags')]); // was taken as 5M, unsaid
    expect(small.code, small.stderr).to.equal(1);
    expect(small.stderr).to.contain(`argument '1K' is invalid. --part-size must be at least 5M`);
  });

  it('a mountpoint in use is exit 1 and the mount already there keeps serving', async () => {
    await mount(imageA, mnt, ['--cache', path.join(dir, 'cache-a')]);
    const r = await blkfs(['mount', imageA, mnt, '--cache', path.join(dir, 'cache-other')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/mountpoint is in use/);
    expect((await readStatus(mnt)).size).to.equal(SIZE);
    // and the same cache cannot be driven by two servers at once
    const other = path.join(dir, 'mnt2');
    fs.mkdirSync(other);
    const busy = await blkfs(['mount', imageA, other, '--cache', path.join(dir, 'cache-a')]);
    expect(busy.code).to.equal(1);
    expect(busy.stderr).to.contain(`is in use by the blkfs mount on ${mnt} (server pid `);
  });

  it('--cache inside a cache in use is exit 1 naming that cache and its mount; so is a mountpoint inside the cache', async () => {
    const used = path.join(dir, 'cache-nest');
    const first = path.join(dir, 'mnt-nest');
    await mount(imageA, first, ['--cache', used]);
    const other = path.join(dir, 'mnt-nest2');
    fs.mkdirSync(other);
    const nested = await blkfs(['mount', imageA, other, '--cache', path.join(used, 'sub')]);
    expect(nested.code, nested.stderr).to.equal(1);
    expect(nested.stderr).to.contain(`lies inside the cache directory ${used}, in use by the blkfs mount on ${first}`);
    expect(fs.existsSync(path.join(used, 'sub'))).to.equal(false);
    const holder = path.join(dir, 'cache-holds-mnt');
    fs.mkdirSync(path.join(holder, 'mp'), { recursive: true });
    const around = await blkfs(['mount', imageA, path.join(holder, 'mp'), '--cache', holder]);
    expect(around.code, around.stderr).to.equal(1);
    expect(around.stderr).to.contain(`the mountpoint ${path.join(holder, 'mp')} lies inside --cache ${holder}`);
    expect(mountAt(other)).to.equal(undefined);
    expect(mountAt(path.join(holder, 'mp'))).to.equal(undefined);
    await umount(first);
  });

  it('archive into a cache directory (its own mount\'s too) is exit 1 naming it, and no bag is begun there', async () => {
    const cache = path.join(dir, 'cache-archive');
    const mp = path.join(dir, 'mnt-archive');
    await mount(imageA, mp, ['--cache', cache]);
    fs.mkdirSync(path.join(cache, 'bags'));
    const r = await blkfs(['archive', '-q', mp, path.join(cache, 'bags')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`it lies inside the blkfs cache directory "${cache}"`);
    expect(fs.readdirSync(path.join(cache, 'bags'))).to.deep.equal([]);
    await umount(mp);
  });

  it('--cache naming a directory that holds caches (the cache root) is exit 1 naming one; the cache itself is accepted', async () => {
    const root = path.join(dir, 'cache-root');
    const mp = path.join(dir, 'mnt-root');
    fs.mkdirSync(mp);
    await mount(imageA, mp, ['--cache', path.join(root, 'medium-a'), '--readahead', '0']);
    await umount(mp);
    const before = fs.readFileSync(path.join(root, 'medium-a', 'state.sqlite'));
    const r = await blkfs(['mount', imageA, mp, '--cache', root]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain(`--cache ${root} holds the blkfs cache ${path.join(root, 'medium-a')}`);
    expect(mountAt(mp)).to.equal(undefined);
    expect(fs.readdirSync(root)).to.deep.equal(['medium-a']);
    expect(fs.readFileSync(path.join(root, 'medium-a', 'state.sqlite')).equals(before)).to.equal(true);
    await mount(imageA, mp, ['--cache', path.join(root, 'medium-a'), '--readahead', '0']);
    await umount(mp);
  });

  it('umount while a program has /raw open is exit 1 and the mount keeps serving; --lazy unmounts anyway', async () => {
    // the holder keeps /raw open until told to let go (no timing assumption about how fast umount starts)
    const release = path.join(dir, 'release');
    const ready = path.join(dir, 'holding');
    const hold = async () => {
      fs.rmSync(ready, { force: true });
      const done = run('sh', ['-c', `exec 3<"${path.join(mnt, 'raw')}"; : > "${ready}"; while [ ! -e "${release}" ]; do sleep 0.05; done`]);
      while (!fs.existsSync(ready)) await new Promise((r) => setTimeout(r, 20));
      return { done }; // wrapped: awaiting hold() must not wait for the holder to exit
    };
    const holder = await hold();
    const busy = await blkfs(['umount', mnt]);
    expect(busy.code, busy.stderr).to.equal(1);
    expect(busy.stderr).to.match(/is busy/);
    expect((await readStatus(mnt)).size).to.equal(SIZE);
    fs.writeFileSync(release, '');
    await holder.done;
    fs.rmSync(release);
    await umount(mnt);
    await mount(imageA, mnt, ['--cache', path.join(dir, 'cache-a')]);
    const holder2 = await hold();
    const lazy = await blkfs(['umount', '--lazy', mnt]);
    expect(lazy.code, lazy.stderr).to.equal(0);
    expect(mountAt(mnt)).to.equal(undefined);
    fs.writeFileSync(release, '');
    await holder2.done;
    fs.rmSync(release);
    await mount(imageA, mnt, ['--cache', path.join(dir, 'cache-a')]);
  });

  it('a cache of another medium is exit 1 and the cache is left as it was', async () => {
    // cache-a holds medium A (mounted by the previous test): read some, unmount, remember its map (read again
    // offline: readahead may have fetched more than dd read, committed by the unmount)
    await run('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=1M', 'count=3', 'iflag=direct']);
    await umount(mnt);
    const snapshot = path.join(dir, 'a-before.img');
    expect((await blkfs(['export', '--cache', path.join(dir, 'cache-a'), snapshot])).code).to.equal(0);
    const before = fs.readFileSync(path.join(dir, 'a-before.map'), 'utf8');
    const imageB = path.join(dir, 'b.img');
    const b = patternImage(SIZE);
    b.fill(0x5a, 0, 4096);
    fs.writeFileSync(imageB, b);
    const r = await blkfs(['mount', imageB, mnt, '--cache', path.join(dir, 'cache-a')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/belongs to a different medium/);
    expect(mountAt(mnt)).to.equal(undefined);
    const out = path.join(dir, 'a-export.img');
    expect((await blkfs(['export', '--cache', path.join(dir, 'cache-a'), out])).code).to.equal(0);
    expect(rangesWithStatus(fs.readFileSync(path.join(dir, 'a-export.map'), 'utf8'), '+')).to.deep.equal(rangesWithStatus(before, '+'));
  });

  it('a malformed mapfile to import is exit 1 naming the file and line; the cache is unchanged', async () => {
    const map = path.join(dir, 'broken.map');
    fs.writeFileSync(map, '# a rescue\n0x00000000     +               1\n0x00000000  0x00100000  +\n0x00100000  zz  +\n');
    const r = await blkfs(['import', imageA, map, '--cache', path.join(dir, 'cache-a')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('broken.map');
    expect(r.stderr).to.match(/line 4: Bad block line in list/);
    const missing = await blkfs(['import', path.join(dir, 'none.img'), map, '--cache', path.join(dir, 'cache-a')]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.match(/IMAGE not found/);
    const out = path.join(dir, 'a-after.img');
    expect((await blkfs(['export', '--cache', path.join(dir, 'cache-a'), out])).code).to.equal(0);
    expect(fs.readFileSync(path.join(dir, 'a-after.map'), 'utf8')).to.equal(fs.readFileSync(path.join(dir, 'a-export.map'), 'utf8'));
  });

  it('a full cache disk: acquire fails with exit 2, nothing is marked read that is not stored, reads fail instead of lying', async function () {
    tmpfs = path.join(dir, 'tiny');
    fs.mkdirSync(tmpfs);
    const m = await run('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', tmpfs]);
    if (m.code !== 0) this.skip(); // needs root, like FUSE
    const cache = path.join(tmpfs, 'cache');
    await mount(imageA, mnt, ['--cache', cache]);
    const r = await blkfs(['acquire', '-q', mnt]);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/disk full/i);
    const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    const cached = rangesWithStatus(map, '+');
    const cachedBytes = cached.reduce((n, x) => n + x.length, 0);
    expect(cachedBytes).to.be.greaterThan(0).and.lessThan(SIZE);
    const data = fs.readFileSync(path.join(cache, 'data.img'));
    const image = fs.readFileSync(imageA);
    for (const c of cached) expect(data.subarray(c.offset, c.offset + c.length).equals(image.subarray(c.offset, c.offset + c.length))).to.equal(true);
    // an uncached sector cannot be stored: the reader gets an error, never zeros
    const last = path.join(dir, 'last.bin');
    const dd = await run('dd', [`if=${path.join(mnt, 'raw')}`, `of=${last}`, 'bs=64K', `skip=${SIZE / 65536 - 1}`, 'count=1', 'iflag=direct']);
    expect(dd.code).to.not.equal(0);
    expect(dd.stderr).to.match(/No space left on device/); // the cache's disk, not a bad sector (EIO)
    expect(fs.statSync(last).size).to.equal(0);
    // importing into the full cache is a failure during the operation too
    const full = await blkfs(['import', imageA, path.join(dir, 'a-export.map'), '--cache', cache]);
    expect([1, 2]).to.include(full.code); // 1 while the cache is held by the mount (busy), 2 when full
    await umount(mnt);
    const again = await blkfs(['import', imageA, truthAll(path.join(dir, 'all.map')), '--cache', cache]);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.match(/disk full/i);
  });

  it('umount of a mount whose cache directory was removed (its control socket with it) stops the server all the same', async () => {
    const cache = path.join(dir, 'cache-removed');
    const pid = await mount(imageA, mnt, ['--cache', cache]);
    fs.rmSync(cache, { recursive: true, force: true });
    const r = await blkfs(['umount', mnt], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/ENOENT; stopping the server \(pid \d+\) with SIGTERM/);
    expect(mountAt(mnt)).to.equal(undefined);
    expect(processAlive(pid)).to.equal(false);
  });
});

function truthAll(file: string): string {
  fs.writeFileSync(file, `0x00000000     +               1\n0x00000000  0x${SIZE.toString(16)}  +\n`);
  return file;
}
