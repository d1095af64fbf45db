// An NBD server that "restarts on another disc": our own nbdkit on a fixed Unix socket, killed with SIGKILL (on
// SIGTERM nbdkit waits for its clients, so a mounted blkfs would keep it alive) and started again on another
// image at the same socket. Only the nbdkit this helper started is ever signalled.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export class RestartableNbdServer {
  private child?: ChildProcess;
  readonly socket: string;
  readonly logFile: string;
  private readonly pidfile: string;
  private stderrTail = '';
  private exit: string | undefined;
  private started?: { image: string; filters: string[]; params: string[] };

  constructor(dir: string, tag = 'restart') {
    this.socket = path.join(dir, `${tag}.sock`);
    this.pidfile = path.join(dir, `${tag}.pid`);
    this.logFile = path.join(dir, `${tag}.log`);
  }

  get uri(): string {
    return `nbd+unix:///?socket=${this.socket}`;
  }

  /** Starts nbdkit -r on `image` (log filter: every read is counted in logFile). */
  async start(image: string, filters: string[] = [], params: string[] = []): Promise<void> {
    if (this.child) throw new Error('already running');
    this.started = { image, filters, params };
    fs.rmSync(this.socket, { force: true });
    fs.rmSync(this.pidfile, { force: true });
    const child = spawn(
      'nbdkit',
      ['-f', '-r', '-U', this.socket, '-P', this.pidfile, '--filter=log', ...filters.map((f) => `--filter=${f}`), 'file', image, `logfile=${this.logFile}`, 'logappend=true', ...params],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderrTail = (this.stderrTail + d).slice(-4000)));
    child.once('exit', (code, signal) => (this.exit = `exit ${code ?? signal}`));
    this.exit = undefined;
    this.child = child;
    const until = Date.now() + 10_000;
    while (!fs.existsSync(this.pidfile) || fs.readFileSync(this.pidfile, 'utf8').trim() === '') {
      if (Date.now() > until || child.exitCode !== null) throw new Error('nbdkit did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** For failure messages: running or how it ended, and the end of its stderr. */
  describe(): string {
    return `nbdkit ${this.exit ?? 'running'}; stderr: ${this.stderrTail.trim().slice(-1000) || '(empty)'}`;
  }

  /** kill -9 of our nbdkit: its clients see the connection drop. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /**
   * Starts it again as it was started if it died: nbdkit 1.32 aborts (`raw_send_socket: Assertion sock >= 0`) when
   * a client is killed while its reads are in flight, which a crash test does on purpose. True if it was restarted.
   */
  async restartIfDied(): Promise<boolean> {
    const child = this.child;
    if (!child || !this.started || (child.exitCode === null && child.signalCode === null)) return false;
    this.child = undefined;
    await this.start(this.started.image, this.started.filters, this.started.params);
    return true;
  }

  /** The server now serves `image` on the same socket (a restart on another disc). */
  async restartOn(image: string): Promise<void> {
    await this.kill();
    await this.start(image);
  }

  /** Read requests logged so far (nbdkit log filter lines "Read id=..."). */
  reads(): { offset: number; count: number }[] {
    if (!fs.existsSync(this.logFile)) return [];
    const out: { offset: number; count: number }[] = [];
    for (const m of fs.readFileSync(this.logFile, 'utf8').matchAll(/Read id=\d+ offset=(0x[0-9a-f]+|\d+) count=(0x[0-9a-f]+|\d+)/g)) {
      out.push({ offset: Number(m[1]), count: Number(m[2]) });
    }
    return out;
  }
}
