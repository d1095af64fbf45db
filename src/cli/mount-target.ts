// Finding the server that serves a MOUNTPOINT: its /status names the pid and the control socket.
import * as fs from 'fs';
import * as path from 'path';
import { mountAt } from '../fuse/mountinfo';
import { OperationError, UserError } from '../errors';

/** The mount is there but its server is not (killed, crashed): the kernel answers ENOTCONN for every file. */
export class ServerGoneError extends OperationError {
  readonly code = 'ENOTCONN';
  constructor(readonly mountpoint: string) {
    super(
      `the blkfs server of ${mountpoint} is not running (it was killed or crashed); what it had recorded is kept in its cache. ` +
        `Run 'blkfs umount ${mountpoint}', then mount again to go on`,
    );
    this.name = 'ServerGoneError';
  }
}

export interface ServerRef {
  mountpoint: string;
  pid: number;
  controlSocket: string;
  cacheDir: string;
}

export function requireBlkfsMount(mountpoint: string): string {
  const abs = path.resolve(mountpoint);
  const m = mountAt(abs);
  if (!m) throw new UserError(`not a mountpoint: ${mountpoint}`);
  if (m.fstype !== 'fuse.blkfs') throw new UserError(`not a blkfs mount (${m.fstype}): ${mountpoint}`);
  return abs;
}

/** Reads MOUNTPOINT/status (the server answers it like any file). */
export async function findServer(mountpoint: string): Promise<ServerRef> {
  const abs = requireBlkfsMount(mountpoint);
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(abs, 'status'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTCONN') throw new ServerGoneError(abs);
    throw err;
  }
  const server = (JSON.parse(text) as { server?: Partial<ServerRef> }).server;
  if (!server || typeof server.pid !== 'number' || typeof server.controlSocket !== 'string') {
    throw new UserError(`${mountpoint}/status does not name a blkfs server`);
  }
  return { mountpoint: abs, pid: server.pid, controlSocket: server.controlSocket, cacheDir: server.cacheDir ?? '' };
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

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}
