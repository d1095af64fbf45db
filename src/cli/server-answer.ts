// A mount's server that does not answer (stopped with SIGSTOP or Ctrl-Z, hung, stuck in the kernel) must not make
// the CLI wait forever: the server's process is found without touching the mount, its state read from /proc, and
// a command that should be answered at once gives up after a few seconds saying why. Nothing here signals it:
// a stopped server holds cache data, and resuming it is the user's call.
import * as fs from 'fs';
import { OperationError } from '../errors';
import { fuseDaemonPid } from '../fuse/fuse-daemon';
import { mountAt } from '../fuse/mountinfo';
import type { ControlSession } from '../server/control-client';
import type { ControlReply, ControlRequest } from '../server/control-protocol';

/** How long a request that should be answered at once (reading /status, the control handshake) may take. */
export const ANSWER_TIMEOUT_MS = 5000;

/** The state letter of /proc/PID/status (R running, S sleeping, D disk sleep, T stopped, t traced, Z zombie). */
export function processState(pid: number): string | undefined {
  try {
    return /^State:\s*(\S)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Stopped by a signal or a debugger: it answers nothing until it is continued. */
export function isStopped(state: string | undefined): boolean {
  return state === 'T' || state === 't';
}

export class ServerNotAnsweringError extends OperationError {
  constructor(mountpoint: string, pid: number | undefined, waitedMs?: number, hint?: string) {
    super(notAnsweringMessage(mountpoint, pid, waitedMs) + (hint ? `; ${hint}` : ''));
    this.name = 'ServerNotAnsweringError';
  }
}

function notAnsweringMessage(mountpoint: string, pid: number | undefined, waitedMs?: number): string {
  const within = waitedMs !== undefined ? ` within ${waitedMs / 1000} s` : '';
  if (pid === undefined) return `the blkfs server of ${mountpoint} does not answer${within} (its process was not found)`;
  const state = processState(pid);
  const why =
    state === 'T'
      ? `it is stopped: kill -CONT ${pid}`
      : state === 't'
        ? `it is stopped by a debugger (traced)`
        : state === 'D'
          ? `it is waiting on the kernel for I/O (state D): try again later`
          : state === undefined || state === 'Z'
            ? `it has exited`
            : `it is running but busy: try again later`;
  return `the blkfs server of ${mountpoint} (pid ${pid}) does not answer${within} (${why})`;
}

/** The pid of the server of a blkfs mount, if its process is found. */
export function serverPidOf(mountpoint: string): number | undefined {
  const entry = mountAt(mountpoint);
  return entry ? fuseDaemonPid(entry) : undefined;
}

/** Throws at once when the server of `mountpoint` is stopped: touching the mount would wait until it is continued. */
export function requireServerNotStopped(mountpoint: string, pid = serverPidOf(mountpoint), hint?: string): void {
  if (pid !== undefined && isStopped(processState(pid))) throw new ServerNotAnsweringError(mountpoint, pid, undefined, hint);
}

/** `work`, or a ServerNotAnsweringError if the server of `mountpoint` has not answered within `ms`. */
export function answeredWithin<T>(mountpoint: string, work: Promise<T>, ms = ANSWER_TIMEOUT_MS, pid?: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServerNotAnsweringError(mountpoint, pid ?? serverPidOf(mountpoint), ms)), ms);
  });
  // `work` is not stopped: a read given up stays pending in the kernel. Made on Node's thread pool it would hold the
  // exit (Node joins the pool), so the mount's files are read in child processes (child-read.ts, rescued-listing.ts).
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * While a long request runs (acquire, verify, export, archive), tells the user once if the server gets stopped:
 * the command keeps waiting, since the work goes on once it is continued. Returns the function that stops watching.
 */
export function warnWhileStopped(mountpoint: string, pid: number, write = (s: string) => process.stderr.write(s)): () => void {
  let warned = false;
  const timer = setInterval(() => {
    const stopped = isStopped(processState(pid));
    if (stopped && !warned) write(`\nblkfs: the blkfs server of ${mountpoint} (pid ${pid}) is stopped: waiting for it (kill -CONT ${pid} to resume)\n`);
    warned = stopped;
  }, 2000);
  timer.unref();
  return () => clearInterval(timer);
}

export interface ServerAddress {
  mountpoint: string;
  pid: number;
  controlSocket: string;
}

/**
 * A control request to the server of a mount: no acknowledgement within the handshake time is a
 * ServerNotAnsweringError; afterwards the answer may take as long as the work does (warnWhileStopped meanwhile).
 */
export async function requestServer(
  server: ServerAddress,
  req: ControlRequest,
  onProgress?: (reply: ControlReply) => void,
): Promise<ControlSession> {
  const { controlRequest, ControlNoAnswerError } = await import('../server/control-client');
  requireServerNotStopped(server.mountpoint, server.pid);
  const session = controlRequest(server.controlSocket, req, onProgress);
  const unwatch = warnWhileStopped(server.mountpoint, server.pid);
  const result = session.result
    .catch((err: unknown) => {
      throw err instanceof ControlNoAnswerError ? new ServerNotAnsweringError(server.mountpoint, server.pid, err.waitedMs) : err;
    })
    .finally(unwatch);
  return { send: session.send, result };
}
