// How many CPUs a worker thread may use: in a process placed by cpu-placement.so (the mount server), the main
// thread's CPU is left out; elsewhere it is what the process was given.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CPU_PLACEMENT_LIB } from '../../src/fuse/server-preloads';
import { countCpuList, workerCpus } from '../../src/thread-cpus';

/** workerCpus() in a new node process with `env`. */
function workerCpusIn(env: NodeJS.ProcessEnv): number {
  const module = path.join(__dirname, '../../src/thread-cpus.js');
  const r = spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(module)}).workerCpus())`], { env, encoding: 'utf8' });
  expect(r.status, r.stderr).to.equal(0);
  return Number(r.stdout);
}

describe('thread-cpus: the CPUs a worker thread may use', () => {
  it('counts a /proc CPU list', () => {
    expect(countCpuList('0')).to.equal(1);
    expect(countCpuList('0-1')).to.equal(2);
    expect(countCpuList('0-2,5,7-8')).to.equal(6);
  });

  it('is the other threads\' count, not the main thread\'s', () => {
    const tasks = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-thread-cpus-'));
    try {
      const thread = (tid: number, cpus: string) => {
        fs.mkdirSync(path.join(tasks, String(tid)));
        fs.writeFileSync(path.join(tasks, String(tid), 'status'), `Name:\tnode\nCpus_allowed:\tf\nCpus_allowed_list:\t${cpus}\n`);
      };
      thread(100, '3'); // the main thread, on the front CPU
      thread(101, '0-2'); // V8's and libuv's threads
      thread(105, '3'); // a libfuse thread
      expect(workerCpus(tasks, 100)).to.equal(3);
    } finally {
      fs.rmSync(tasks, { recursive: true });
    }
  });

  it('is what the process was given, in a process nobody placed', () => {
    expect(workerCpus()).to.equal(os.availableParallelism());
  });

  it('leaves out the main thread\'s CPU in a process cpu-placement.so placed, and not when it is off', function () {
    if (!fs.existsSync(CPU_PLACEMENT_LIB) || os.availableParallelism() < 2) this.skip(); // nothing to place
    const given = os.availableParallelism();
    expect(workerCpusIn({ ...process.env, LD_PRELOAD: CPU_PLACEMENT_LIB })).to.equal(given - 1);
    expect(workerCpusIn({ ...process.env, LD_PRELOAD: CPU_PLACEMENT_LIB, BLKFS_CPU_PLACEMENT: 'off' })).to.equal(given);
  });
});
