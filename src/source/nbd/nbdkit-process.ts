// One nbdkit server we started: read-only, on a Unix socket in a private directory, tied to our life.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { NbdTarget } from '../source-spec';
import { OperationError } from '../../errors';
import { withoutFuseFds } from '../../clean-spawn';
import { processExists } from '../../proc-fds';

export interface NbdkitStartOptions {
  /** Plugin, its parameters and any filter parameters, e.g. ['file', 'file=/dev/sr0', 'ddrescue-mapfile=bad.map']. */
  args: string[];
  /** Filter names, outermost (closest to the client) first, e.g. ['log', 'ddrescue']. */
  filters?: string[];
  /** Extra server options placed before the plugin, e.g. ['--no-sr']. */
  serverOptions?: string[];
  /** How long to wait for the pidfile (default 10 s). */
  readyTimeoutMs?: number;
  /** Executable (default 'nbdkit' from PATH). */
  command?: string;
}

export interface NbdkitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** nbdkit did not come up: the message carries its stderr. */
export class NbdkitStartError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'NbdkitStartError';
  }
}

const STDERR_KEEP = 64 * 1024;
// Private dirs of live servers, removed if the process exits without stop() (nbdkit itself dies with us
// through --exit-with-parent, but it never deletes its socket or pidfile).
const liveDirs = new Set<string>();
process.on('exit', () => liveDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

export class NbdkitProcess {
  readonly target: NbdTarget;
  readonly pid: number;
  /** Resolves with the exit code (null when killed by a signal) once nbdkit has exited. */
  readonly exited: Promise<number | null>;
  private exitInfo?: NbdkitExit;
  private stderrTail = '';
  private stopping?: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    this.pid = child.pid!;
    this.target = { socket: path.join(dir, 'nbd.sock'), exportName: '' };
    child.stderr!.setEncoding('utf8');
    // Always drain stderr: nbdkit logs every failed pread there, and a full pipe would block it.
    child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEEP);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(code);
      });
    });
  }

  static async start(options: NbdkitStartOptions): Promise<NbdkitProcess> {
    sweepStaleDirs();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-nbdkit-'));
    liveDirs.add(dir);
    const sock = path.join(dir, 'nbd.sock');
    const pidfile = path.join(dir, 'nbdkit.pid');
    const argv = [
      '-r', // rule 2: the source is never written
      '--exit-with-parent', // PR_SET_PDEATHSIG follows the forking thread: spawn() runs on Node's main thread
      '-f',
      '-U', sock,
      '-P', pidfile, // written once nbdkit accepts connections: the readiness signal
      ...(options.serverOptions ?? []),
      ...(options.filters ?? []).map((f) => `--filter=${f}`),
      ...options.args,
    ];
    const command = options.command ?? 'nbdkit';
    // Started after the FUSE mount when the drive gets another disc: never with the server's /dev/fuse fd.
    const clean = withoutFuseFds(command, argv);
    const child = spawn(clean.command, clean.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    if (child.pid === undefined) {
      fs.rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      const err = (await spawnError) as NodeJS.ErrnoException;
      const hint = err.code === 'ENOENT' ? ` (is nbdkit installed? on Debian: apt-get install nbdkit)` : '';
      throw new NbdkitStartError(`cannot run ${command}: ${err.message}${hint}`);
    }
    const server = new NbdkitProcess(child, dir);
    const timeoutMs = options.readyTimeoutMs ?? 10000;
    const outcome = await server.waitReady(pidfile, timeoutMs);
    if (outcome !== 'ready') {
      await server.stop();
      const why = outcome === 'exited' ? `exited (${server.describeExit()})` : `was not ready after ${timeoutMs} ms`;
      throw new NbdkitStartError(`nbdkit ${why}: ${server.stderr().trim() || '(no message)'}\n  command: ${command} ${argv.join(' ')}`);
    }
    return server;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** The last 64 KiB nbdkit wrote on stderr. */
  stderr(): string {
    return this.stderrTail;
  }

  describeExit(): string {
    if (!this.exitInfo) return 'running';
    return this.exitInfo.signal ? `killed by ${this.exitInfo.signal}` : `exit code ${this.exitInfo.code}`;
  }

  /**
   * SIGTERM, wait, then remove the socket, pidfile and directory. nbdkit 1.32 exits on SIGTERM only once
   * its clients have disconnected (it answers their requests with ESHUTDOWN), so disconnect first;
   * after 5 s it gets SIGKILL.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.hasExited) {
        this.child.kill('SIGTERM'); // only ever our own child, and only while it has not exited
        const timer = setTimeout(() => this.hasExited || this.child.kill('SIGKILL'), 5000);
        await this.exited;
        clearTimeout(timer);
      }
      fs.rmSync(this.dir, { recursive: true, force: true });
      liveDirs.delete(this.dir);
    })();
    return this.stopping;
  }

  private async waitReady(pidfile: string, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      if (this.hasExited) return 'exited';
      if (pidfileReady(pidfile)) return 'ready';
      if (Date.now() >= deadline) return 'timeout';
      await Promise.race([new Promise((r) => setTimeout(r, delay)), this.exited]);
    }
  }
}

function pidfileReady(pidfile: string): boolean {
  try {
    // nbdkit writes the pid and a newline; an empty file means it is still being written.
    return /^\d+\s*$/.test(fs.readFileSync(pidfile, 'utf8'));
  } catch {
    return false;
  }
}

/** A private dir is stale once it is this old with no live nbdkit: younger ones may still be starting. */
const STALE_AFTER_MS = 60_000;

/**
 * Removes the private dirs (socket, pidfile) of nbdkits that are gone: a blkfs killed with SIGKILL cannot remove
 * its own, and nbdkit never does. Only this user's blkfs-nbdkit-* dirs whose pidfile names no live process.
 */
export function sweepStaleDirs(tmp = os.tmpdir()): void {
  let names: string[];
  try {
    names = fs.readdirSync(tmp).filter((n) => n.startsWith('blkfs-nbdkit-'));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = path.join(tmp, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.() || liveDirs.has(dir) || Date.now() - st.mtimeMs < STALE_AFTER_MS) continue;
      const pid = Number(fs.readFileSync(path.join(dir, 'nbdkit.pid'), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && processExists(pid)) continue;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') continue; // no pidfile: never started, or long dead
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
