// Open files of this user's processes, from /proc (what `fuser`/`lsof` read): which process serves a FUSE mount,
// which one holds a cache's database, which image a ddrescue writes. Processes that end or belong to others meanwhile are skipped.
// Also whether a process named in a lock or pid file still runs.
import * as fs from 'fs';

export interface OpenFile {
  pid: number;
  fd: string;
  /** Where the descriptor points (its /proc/PID/fd link). */
  target: string;
}

/** The processes we may look at: all but this one. */
export function processIds(): number[] {
  return readdir('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .map(Number);
}

/** Whether process `pid` exists (a zombie too): kill(pid, 0) fails with EPERM for another user's process, which exists. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The open files of the processes we may look at (all but this one, or just `pid`), `wanted` deciding by the link target. */
export function openFiles(wanted: (target: string) => boolean, pid?: number): OpenFile[] {
  const out: OpenFile[] = [];
  for (const p of pid !== undefined ? [pid] : processIds()) {
    if (p === process.pid) continue;
    for (const fd of readdir(`/proc/${p}/fd`)) {
      const target = readlink(`/proc/${p}/fd/${fd}`);
      if (target !== undefined && wanted(target)) out.push({ pid: p, fd, target });
    }
  }
  return out;
}

export function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return []; // gone meanwhile, or another user's
  }
}

export function readlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

export function readProcText(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
