// Which process serves a FUSE mount, found without touching the mount (a stopped server would hang the lookup):
// the process holding /dev/fuse open on the mount's connection. Linux shows the connection in the fd's fdinfo
// (`fuse_connection: N`, N the minor of the mount's device); an older kernel that does not is matched on the
// server's command line naming the mountpoint.
import * as path from 'path';
import { MountEntry, mountEntries } from './mountinfo';
import { openFiles, processIds, readlink, readProcText } from '../proc-fds';

function connectionOf(pid: number, fd: string): number | undefined {
  const info = /^fuse_connection:\s*(\d+)/m.exec(readProcText(`/proc/${pid}/fdinfo/${fd}`));
  return info ? Number(info[1]) : undefined;
}

export function fuseDaemonPid(mount: MountEntry): number | undefined {
  const connection = Number(mount.device.split(':')[1]);
  // First the processes whose command line names the mountpoint (`blkfs mount SOURCE MOUNTPOINT`): one read each,
  // where looking through every descriptor of every process costs tens of ms on a busy machine, at each command.
  for (const pid of processIds()) {
    if (!namesMountpoint(pid, mount.mountpoint)) continue;
    if (openFiles((t) => t === '/dev/fuse', pid).some(({ fd }) => connectionOf(pid, fd) === connection)) return pid;
  }
  let byCommandLine: number | undefined;
  for (const { pid, fd } of openFiles((t) => t === '/dev/fuse')) {
    const conn = connectionOf(pid, fd);
    if (conn === connection) return pid;
    if (conn === undefined && byCommandLine === undefined && namesMountpoint(pid, mount.mountpoint)) byCommandLine = pid;
  }
  return byCommandLine;
}

/** The blkfs mounts process `pid` serves (by the connections of its /dev/fuse descriptors). */
export function mountsServedBy(pid: number): MountEntry[] {
  const blkfs = mountEntries().filter((m) => m.fstype === 'fuse.blkfs');
  const served: MountEntry[] = [];
  for (const { fd } of openFiles((t) => t === '/dev/fuse', pid)) {
    const conn = connectionOf(pid, fd);
    served.push(...blkfs.filter((m) => (conn !== undefined ? Number(m.device.split(':')[1]) === conn : namesMountpoint(pid, m.mountpoint))));
  }
  return served;
}

function namesMountpoint(pid: number, mountpoint: string): boolean {
  const cmdline = readProcText(`/proc/${pid}/cmdline`);
  if (!cmdline.includes(path.basename(mountpoint))) return false; // most processes: no need to read their cwd
  const cwd = readlink(`/proc/${pid}/cwd`);
  if (cwd === undefined) return false;
  return cmdline
    .split('\0')
    .some((arg) => arg !== '' && path.resolve(cwd, arg) === mountpoint);
}
