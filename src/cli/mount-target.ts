// Finding the server that serves a MOUNTPOINT: its /status names the pid and the control socket.
import * as fs from 'fs';
import * as path from 'path';
import { mountAt } from '../fuse/mountinfo';
import { UserError } from '../errors';
import { readInChild } from './child-read';
import { answeredWithin, requireServerNotStopped, ServerNotAnsweringError, serverPidOf } from './server-answer';

export interface ServerRef {
  mountpoint: string;
  pid: number;
  controlSocket: string;
  cacheDir: string;
  /** The SOURCE argument as the server resolved it (a file, a device or an NBD URI). */
  source?: string;
  /** The medium's size and sector size, as /status gave them. */
  medium?: { size: number; sectorSize: number };
}

export function requireBlkfsMount(mountpoint: string): string {
  const abs = path.resolve(mountpoint);
  const m = mountAt(abs);
  if (!m) throw new UserError(`not a mountpoint: ${mountpoint}`);
  if (m.fstype !== 'fuse.blkfs') throw new UserError(`not a blkfs mount (${m.fstype}): ${mountpoint}`);
  return abs;
}

/** The mount's server died and left the kernel mount orphaned (ENOTCONN); `blkfs umount` detaches it. */
export class DeadMountError extends UserError {
  readonly code = 'ENOTCONN';
  constructor(mountpoint: string) {
    super(`the blkfs server of ${mountpoint} is gone (a dead mount): run blkfs umount ${mountpoint}`);
    this.name = 'DeadMountError';
  }
}

/**
 * Reads a small file of a blkfs mount that the server answers at once (/status): a dead mount is a DeadMountError,
 * not a bare ENOTCONN; a stopped or hung server a ServerNotAnsweringError, not a wait without end. Read in a child
 * process (child-read.ts), so that a read given up does not hold the command's exit.
 */
export async function readMountFile(mountpoint: string, name: string, pid = serverPidOf(mountpoint), encoding: BufferEncoding = 'utf8'): Promise<string> {
  requireServerNotStopped(mountpoint, pid);
  const read = readInChild(path.join(mountpoint, name), encoding);
  try {
    return await answeredWithin(mountpoint, read.text, undefined, pid);
  } catch (err) {
    if (err instanceof ServerNotAnsweringError) read.abandon();
    if ((err as NodeJS.ErrnoException).code === 'ENOTCONN') throw new DeadMountError(mountpoint);
    throw err;
  }
}

/** Reads MOUNTPOINT/status (the server answers it like any file). */
export async function findServer(mountpoint: string): Promise<ServerRef> {
  const abs = requireBlkfsMount(mountpoint);
  const text = await readMountFile(abs, 'status');
  const status = JSON.parse(text) as { server?: Partial<ServerRef>; size?: unknown; sectorSize?: unknown };
  const server = status.server;
  if (!server || typeof server.pid !== 'number' || typeof server.controlSocket !== 'string') {
    throw new UserError(`${mountpoint}/status does not name a blkfs server`);
  }
  const source = typeof server.source === 'string' ? server.source : undefined;
  const medium = typeof status.size === 'number' && typeof status.sectorSize === 'number' ? { size: status.size, sectorSize: status.sectorSize } : undefined;
  return { mountpoint: abs, pid: server.pid, controlSocket: server.controlSocket, cacheDir: server.cacheDir ?? '', source, medium };
}

/** Alive and not a zombie (a -f server started by a test stays a zombie until its parent reaps it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** `check` runs at each look (it may throw to stop waiting). */
export async function waitForExit(pid: number, timeoutMs: number, check: () => void = () => {}): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() > until) return false;
    check();
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
