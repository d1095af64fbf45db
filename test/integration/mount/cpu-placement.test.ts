// Where the mount server's threads run (src/fuse/cpu-placement.c, preloaded by `blkfs mount`): the request path (the
// event loop's thread and libfuse's threads) on one CPU, every other thread of the server on the others, and its
// children (nbdkit) on every CPU the server was given. BLKFS_CPU_PLACEMENT=off leaves all of it to the scheduler.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { CPU_PLACEMENT_LIB } from '../../../src/fuse/server-preloads';
import { cleanup, mount, patternImage, tempDir, umount } from './harness';

/** CPUs a thread may run on, as /proc lists them ("0-1", "1"). */
function allowedCpus(pid: number, tid = pid): string {
  const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? '';
}

/** The threads of `pid` still there when read, with the CPUs each may run on. */
function threadCpus(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      out.set(tid, allowedCpus(pid, tid));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The server's threads that wait in read(2) on /dev/fuse: libfuse's. */
function fuseThreads(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => {
    try {
      const [call, fd] = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').split(' ');
      return call === '0' && fs.readlinkSync(`/proc/${pid}/fd/${Number(fd)}`) === '/dev/fuse';
    } catch {
      return false; // the thread ended, or its descriptor is not the FUSE device
    }
  });
}

function children(pid: number): number[] {
  return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

describe('mount: the request path on one CPU, background work on the others', function () {
  let dir: string;
  let imagePath: string;
  const given = allowedCpus(process.pid);

  before(function () {
    if (!fs.existsSync(CPU_PLACEMENT_LIB)) this.skip(); // built by npm run build (scripts/build-native.sh)
    if (!/[-,]/.test(given)) this.skip(); // one CPU to run on: nothing to place
    dir = tempDir('cpu-placement');
    imagePath = path.join(dir, 'medium.img');
    fs.writeFileSync(imagePath, patternImage(4 << 20));
  });
  after(() => dir && cleanup(dir));

  it('the event loop and libfuse threads share the highest CPU; other threads run elsewhere; nbdkit may use all', async () => {
    const mnt = path.join(dir, 'mnt');
    const cache = path.join(dir, 'cache');
    const pid = await mount(imagePath, mnt, ['--cache', cache]);
    try {
      const front = String(Math.max(...given.split(/[-,]/).map(Number))); // the highest CPU the server was given
      expect(allowedCpus(pid)).to.equal(front);
      const fuse = fuseThreads(pid);
      expect(fuse).to.not.be.empty;
      for (const tid of fuse) expect(allowedCpus(pid, tid), `libfuse thread ${tid}`).to.equal(front);
      const elsewhere = [...threadCpus(pid)].filter(([tid, cpus]) => tid !== pid && !fuse.includes(tid) && !cpus.split(/[-,]/).includes(front));
      expect(elsewhere.length, 'threads kept off the request path').to.be.greaterThan(0);
      const nbdkit = children(pid).filter((c) => fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'nbdkit');
      expect(nbdkit).to.have.lengthOf(1);
      expect(allowedCpus(nbdkit[0])).to.equal(given);
      expect(fs.readFileSync(path.join(cache, 'mount.log'), 'utf8')).to.include(`cpu: request path on CPU ${front}, other threads on CPU`);
    } finally {
      await umount(mnt);
    }
  });

  it('BLKFS_CPU_PLACEMENT=off: every thread may run on every CPU, and the mount log says why', async () => {
    const mnt = path.join(dir, 'mnt-off');
    const cache = path.join(dir, 'cache-off');
    const pid = await mount(imagePath, mnt, ['--cache', cache], { ...process.env, BLKFS_CPU_PLACEMENT: 'off' });
    try {
      for (const [tid, cpus] of threadCpus(pid)) expect(cpus, `thread ${tid}`).to.equal(given);
      expect(fs.readFileSync(path.join(cache, 'mount.log'), 'utf8')).to.include('cpu: off (BLKFS_CPU_PLACEMENT=off)');
    } finally {
      await umount(mnt);
    }
  });
});
