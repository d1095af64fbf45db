// A mount whose server does not answer though it is not stopped (hung, or stuck in the kernel): here frozen by the
// cgroup freezer, which leaves it neither stopped nor running. The CLI reads /status with a deadline: it must then say
// so and exit 2, not go on waiting for the read it gave up (Node's exit waits for reads left on its thread pool).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { mountAt } from '../../../src/fuse/mountinfo';
import { blkfs, cleanup, mount, patternImage, sleep, tempDir } from './harness';

const FREEZER = '/sys/fs/cgroup/freezer';

describe('mount: a server that does not answer, not stopped (real FUSE, cgroup freezer)', function () {
  this.timeout(90_000);
  let dir: string;
  let mnt: string;
  let pid = 0;
  let group: string | undefined;

  before(async function () {
    if (!fs.existsSync(path.join(FREEZER, 'cgroup.procs'))) return this.skip(); // a machine without the v1 freezer
    dir = tempDir('frozen');
    fs.writeFileSync(path.join(dir, 'a.img'), patternImage(1 << 20));
    mnt = path.join(dir, 'mnt');
    pid = await mount(path.join(dir, 'a.img'), mnt, ['--cache', path.join(dir, 'cache')]);
    group = path.join(FREEZER, `blkfs-test-${process.pid}`);
    fs.mkdirSync(group);
    fs.writeFileSync(path.join(group, 'cgroup.procs'), String(pid));
    fs.writeFileSync(path.join(group, 'freezer.state'), 'FROZEN');
    for (let i = 0; i < 100 && fs.readFileSync(path.join(group, 'freezer.state'), 'utf8').trim() !== 'FROZEN'; i++) await sleep(50);
  });

  after(async () => {
    if (group) {
      fs.writeFileSync(path.join(group, 'freezer.state'), 'THAWED');
      fs.writeFileSync(path.join(FREEZER, 'cgroup.procs'), String(pid));
      fs.rmdirSync(group);
    }
    await cleanup(dir);
  });

  it('status and acquire give up after their 5 s with exit 2, naming the pid; once thawed the mount serves', async () => {
    for (const args of [['status', mnt], ['acquire', '-q', mnt]]) {
      const r = await blkfs(args, { timeoutMs: 30_000 });
      expect(r.code, `${args[0]}: ${r.stderr}`).to.equal(2);
      expect(r.stderr, args[0]).to.contain(`the blkfs server of ${mnt} (pid ${pid}) does not answer within 5 s`);
    }
    fs.writeFileSync(path.join(group!, 'freezer.state'), 'THAWED');
    const st = await blkfs(['status', '--json', mnt]);
    expect(st.code, st.stderr).to.equal(0);
    expect(JSON.parse(st.stdout).server.pid).to.equal(pid);
    expect(mountAt(mnt)?.fstype).to.equal('fuse.blkfs');
  });
});
