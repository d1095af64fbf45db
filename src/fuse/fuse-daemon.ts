// Which process serves a FUSE mount, found without touching the mount (a stopped server would hang the lookup):
// the process holding /dev/fuse open on the mount's connection. Linux shows the connection in the fd's fdinfo
// (`fuse_connection: N`, N the minor of the mount's device); an older kernel that does not is matched on the
// server's command line naming the mountpoint.
import * as fs from 'fs';
import * as path from 'path';
import type { MountEntry } from './mountinfo';

export function fuseDaemonPid(mount: MountEntry): number | undefined {
  const connection = Number(mount.device.split(':')[1]);
  let byCommandLine: number | undefined;
  for (const name of readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const pid = Number(name);
    for (const fd of readdir(`/proc/${pid}/fd`)) {
      if (readlink(`/proc/${pid}/fd/${fd}`) !== '/dev/fuse') continue;
      const info = /^fuse_connection:\s*(\d+)/m.exec(readText(`/proc/${pid}/fdinfo/${fd}`));
      if (info) {
        if (Number(info[1]) === connection) return pid;
      } else if (byCommandLine === undefined && namesMountpoint(pid, mount.mountpoint)) {
        byCommandLine = pid;
      }
    }
  }
  return byCommandLine;
}

function namesMountpoint(pid: number, mountpoint: string): boolean {
  const cwd = readlink(`/proc/${pid}/cwd`);
  if (cwd === undefined) return false;
  return readText(`/proc/${pid}/cmdline`)
    .split('\0')
    .some((arg) => arg !== '' && path.resolve(cwd, arg) === mountpoint);
}

function readdir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return []; // gone meanwhile, or another user's
  }
}

function readlink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

function readText(p: string): string {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}
