// How many CPUs a new worker thread of this process may run on. os.availableParallelism() answers for the calling
// thread, and in the mount server that is the event loop's, which keeps a CPU of its own (src/fuse/cpu-placement.c):
// its other threads, workers among them, run on the rest. So ask /proc about the other threads.
import * as os from 'os';
import { readdir, readProcText } from './proc-fds';

/** CPUs in a /proc list such as "0-2,5" (4). */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (Number.isInteger(a) && Number.isInteger(b) && b >= a) n += b - a + 1;
  }
  return n;
}

/**
 * The most CPUs any thread of this process but the main one may use; the calling thread's count where /proc cannot
 * tell. (`tasks` and `mainTid` name another process's threads, for tests.)
 */
export function workerCpus(tasks = '/proc/self/task', mainTid = process.pid): number {
  let most = 0;
  for (const tid of readdir(tasks)) {
    if (Number(tid) === mainTid) continue;
    // A thread that ended while we looked reads as '': skipped.
    const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readProcText(`${tasks}/${tid}/status`))?.[1];
    if (list) most = Math.max(most, countCpuList(list));
  }
  return most > 0 ? most : os.availableParallelism();
}
