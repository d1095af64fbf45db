// A mount whose server is stopped (kill -STOP, Ctrl-Z of a -f mount) answers nothing. The CLI must neither wait
// for it forever nor kill it (its memory holds cache state): exit 2 saying so, and the mount is intact once it
// is continued. Nothing in this test touches the mount while the server is stopped (that would wait too).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { mountAt } from '../../../src/fuse/mountinfo';
import { blkfs, cleanup, mount, patternImage, tempDir } from './harness';

describe('mount: a stopped server (real FUSE, SIGSTOP)', function () {
  let dir: string;
  let mnt: string;
  let pid = 0;

  before(async () => {
    dir = tempDir('stopped');
    fs.writeFileSync(path.join(dir, 'a.img'), patternImage(1 << 20));
    mnt = path.join(dir, 'mnt');
    pid = await mount(path.join(dir, 'a.img'), mnt, ['--cache', path.join(dir, 'cache')]);
    process.kill(pid, 'SIGSTOP');
  });

  after(async () => {
    if (pid > 0) process.kill(pid, 'SIGCONT');
    await cleanup(dir);
  });

  it('status, acquire, export and umount give up at once with exit 2, naming the pid and kill -CONT; the mount stays', async () => {
    const stopped = new RegExp(`the blkfs server of ${mnt} \\(pid ${pid}\\) does not answer \\(it is stopped: kill -CONT ${pid}\\)`);
    for (const args of [['status', mnt], ['acquire', '-q', mnt], ['export', mnt, path.join(dir, 'out.img')], ['umount', mnt]]) {
      const r = await blkfs(args, { timeoutMs: 20_000 });
      expect(r.code, `${args[0]}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args[0]).to.match(stopped);
    }
    expect(fs.existsSync(path.join(dir, 'out.img'))).to.equal(false);
    expect(mountAt(mnt)?.fstype).to.equal('fuse.blkfs');
  });

  it('once continued, the same mount serves and unmounts cleanly', async () => {
    process.kill(pid, 'SIGCONT');
    const st = await blkfs(['status', '--json', mnt]);
    expect(st.code, st.stderr).to.equal(0);
    expect(JSON.parse(st.stdout).server.pid).to.equal(pid);
    const r = await blkfs(['umount', mnt]);
    expect(r.code, r.stderr).to.equal(0);
    expect(mountAt(mnt)).to.equal(undefined);
  });
});
