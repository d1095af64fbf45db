// Issue 8: a cache is private whatever the umask, no control socket or nbdkit dir is left as litter, and failures
// the user must act on are not hidden (exit 1 naming the path and the cause; a dead server said in words).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, forgetServer, MAIN_JS, mount, readStatus, run, tempDir } from '../mount/harness';

describe('integrity: private by default, failures not hidden', function () {
  this.timeout(60_000);
  let tmp: string;
  let img: string;

  beforeEach(() => {
    tmp = tempDir('private');
    img = path.join(tmp, 'A.img');
    fs.writeFileSync(img, Buffer.alloc(1024 * 1024, 7));
  });

  afterEach(async () => {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('umask 000: the cache directory is 0700, its files 0600; the control socket lives in it; stale ones are removed', async () => {
    const cache = path.join(tmp, 'cache');
    fs.mkdirSync(cache, { mode: 0o777 });
    // A socket left by a server that died (its pid is gone) and an nbdkit dir of a dead server, a minute old.
    const dead = await run(process.execPath, ['-e', 'console.log(process.pid)']);
    const deadPid = Number(dead.stdout.trim());
    await run('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(cache, `${deadPid}.ctl`)]);
    const staleNbd = fs.mkdtempSync('/tmp/blkfs-nbdkit-');
    fs.writeFileSync(path.join(staleNbd, 'nbdkit.pid'), `${deadPid}\n`);
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(staleNbd, old, old);

    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    const r = await run('sh', ['-c', `umask 000; exec "${process.execPath}" "${MAIN_JS}" mount "${img}" "${mnt}" --cache "${cache}"`]);
    expect(r.code, r.stderr).to.equal(0);
    const pid = Number(/server pid (\d+)/.exec(r.stderr)![1]);
    try {
      await fs.promises.readFile(path.join(mnt, 'raw'));
      const st = (await readStatus(mnt)) as unknown as { server: { controlSocket: string } };
      expect(path.dirname(st.server.controlSocket)).to.equal(cache);
      expect(fs.statSync(cache).mode & 0o777).to.equal(0o700);
      for (const name of fs.readdirSync(cache)) {
        const s = fs.lstatSync(path.join(cache, name)); // files and the control socket
        expect(s.mode & 0o777, name).to.equal(0o600);
      }
      expect(fs.existsSync(path.join(cache, `${deadPid}.ctl`)), 'stale socket').to.equal(false);
      expect(fs.existsSync(staleNbd), 'stale nbdkit dir').to.equal(false);
    } finally {
      const u = await blkfs(['umount', mnt]);
      expect(u.code, u.stderr).to.equal(0);
      forgetServer(pid);
    }
  });

  it('--cache naming a file, or a directory on a read-only file system: exit 1 naming the path and ENOTDIR / EROFS', async () => {
    const mnt = path.join(tmp, 'mnt');
    fs.mkdirSync(mnt);
    const file = path.join(tmp, 'afile');
    fs.writeFileSync(file, 'x');
    const r1 = await blkfs(['mount', img, mnt, '--cache', file]);
    expect(r1.code).to.equal(1);
    expect(r1.stderr).to.contain(file).and.to.match(/not a directory|ENOTDIR/);
    const ro = path.join(tmp, 'ro');
    fs.mkdirSync(ro);
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro])).code).to.equal(0);
    try {
      const r2 = await blkfs(['mount', img, mnt, '--cache', path.join(ro, 'c')]);
      expect(r2.code).to.equal(1);
      expect(r2.stderr).to.contain(path.join(ro, 'c')).and.to.contain('EROFS');
    } finally {
      await run('umount', [ro]);
    }
  });

  it('verify and export --cache of a cache on a read-only file system: exit 1 naming the cache and EROFS (was "disk I/O error", exit 2)', async () => {
    const map = path.join(tmp, 'A.map');
    fs.writeFileSync(map, '0x0 +\n0x0 0x100000 +\n');
    const ro = path.join(tmp, 'ro');
    fs.mkdirSync(ro);
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', ro])).code).to.equal(0);
    try {
      const cache = path.join(ro, 'c');
      expect((await blkfs(['import', '--cache', cache, '--source', img, img, map])).code).to.equal(0);
      expect((await run('mount', ['-o', 'remount,ro', ro])).code).to.equal(0);
      for (const args of [['verify', '-q', '--cache', cache], ['export', '--cache', cache, path.join(tmp, 'out.img')]]) {
        const r = await blkfs(args);
        expect(r.code, r.stderr).to.equal(1);
        expect(r.stderr).to.contain(cache).and.to.contain('EROFS');
      }
    } finally {
      await run('umount', [ro]);
    }
  });

  it('acquire on a mount whose server was killed says so in words (not a bare ENOTCONN)', async () => {
    const mnt = path.join(tmp, 'mnt');
    const pid = await mount(img, mnt, ['--cache', path.join(tmp, 'cache')]);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    forgetServer(pid);
    const r = await blkfs(['acquire', mnt]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/the blkfs server of .* is gone \(a dead mount\): run blkfs umount/);
    expect(r.stderr).to.not.contain('ENOTCONN');
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
  });

  it('umount of a dead mount that a program still holds: exit 1 "is busy" as for a live one, and --lazy detaches it', async () => {
    const mnt = path.join(tmp, 'mnt');
    const pid = await mount(img, mnt, ['--cache', path.join(tmp, 'cache')]);
    const holder = await fs.promises.open(path.join(mnt, 'raw'), 'r');
    try {
      process.kill(pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      forgetServer(pid);
      const busy = await blkfs(['umount', mnt]);
      expect(busy.code, busy.stderr).to.equal(1);
      expect(busy.stderr).to.match(/is busy: a program still has a file open there \(close it, or unmount with --lazy\)/);
      const lazy = await blkfs(['umount', '--lazy', mnt]);
      expect(lazy.code, lazy.stderr).to.equal(0);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(` ${mnt} `);
    } finally {
      await holder.close().catch(() => undefined);
    }
  });

  it('umount exits 2 when the final flush failed (the state database refused the commit), and says where to look', async function () {
    const cache = path.join(tmp, 'cache');
    const mnt = path.join(tmp, 'mnt');
    await mount(img, mnt, ['--cache', cache]);
    const raw = path.join(mnt, 'raw');
    const fh = await fs.promises.open(raw, 'r');
    const wal = path.join(cache, 'state.sqlite-wal');
    try {
      await fh.read(Buffer.alloc(65536), 0, 65536, 0);
      // An immutable WAL (ext4 chattr +i, refused even to root): the next group commit fails.
      if ((await run('chattr', ['+i', wal])).code !== 0) this.skip();
      await fh.read(Buffer.alloc(65536), 0, 65536, 512 * 1024); // answered at once; its commit fails later
    } finally {
      await fh.close().catch(() => undefined);
    }
    try {
      const r = await blkfs(['umount', mnt]);
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr).to.contain('shutdown failed').and.to.contain(path.join(cache, 'mount.log'));
      expect(r.stderr, 'and why').to.match(/shutdown failed \(flush cache: .+\)/);
      // The mount log said so when the commit failed, not only at the unmount.
      expect(fs.readFileSync(path.join(cache, 'mount.log'), 'utf8')).to.match(/ERROR: cache: bytes read from the medium could not be recorded/);
    } finally {
      await run('chattr', ['-i', wal]);
    }
    // Nothing was recorded for what failed to commit: the cache stays faithful.
    const v = await blkfs(['verify', '--cache', cache, '-q']);
    expect(v.code, v.stderr).to.equal(0);
  });
});
