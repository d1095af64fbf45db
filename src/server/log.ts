// The server's log: stderr in the foreground; a file in the cache dir once a background server knows it.
// Levels, most severe first: a logger at `info` writes error, warn and info lines.
import * as fs from 'fs';
import { BlkfsError } from '../errors';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export class Log {
  private fd: number | undefined;
  private path: string | undefined;
  /** Lines written before toFile() when nobody reads stderr (a background server): they open the file. */
  private held: string[] | undefined;

  constructor(
    private readonly level: LogLevel = 'info',
    opts: { holdUntilFile?: boolean } = {},
  ) {
    if (opts.holdUntilFile) this.held = [];
  }

  /** Appends every later line (and the lines held until now) to `file` instead of stderr. */
  toFile(file: string): void {
    this.fd = fs.openSync(file, 'a', 0o600);
    fs.fchmodSync(this.fd, 0o600); // the log names the medium and its damage: private like the cache
    this.path = file;
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) this.put(line);
  }

  /** The log file, or undefined while the log goes to stderr. */
  get file(): string | undefined {
    return this.path;
  }

  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.level);
  }

  debug(message: string): void {
    if (this.enabled('debug')) this.write('debug', message);
  }

  info(message: string): void {
    if (this.enabled('info')) this.write('info', message);
  }

  warn(message: string): void {
    if (this.enabled('warn')) this.write('warn', message);
  }

  /**
   * An error we raise on purpose (UserError, OperationError: a bad sector, the source lost, the disk full) is an
   * expected condition with a message written for users: one line. Anything else is a bug or a raw failure
   * nobody classified: its stack goes in, to be reported.
   */
  error(message: string, err?: unknown): void {
    this.write('error', err === undefined ? message : `${message}: ${describeError(err)}`);
  }

  /** An error that escaped every handler (uncaught): always with its stack, whatever its class. */
  unexpected(message: string, err: unknown): void {
    this.write('error', `${message}: ${describeError(err, true)}`);
  }

  private write(level: LogLevel, message: string): void {
    const tag = level === 'info' ? '' : `${level.toUpperCase()}: `;
    const line = `${new Date().toISOString()} blkfs[${process.pid}] ${tag}${message}\n`;
    if (this.held && this.fd === undefined) this.held.push(line);
    else this.put(line);
  }

  private put(line: string): void {
    try {
      if (this.fd !== undefined) fs.writeSync(this.fd, line);
      else process.stderr.write(line);
    } catch {
      // A log that cannot be written (disk full) must not take the server down.
    }
  }
}

function describeError(err: unknown, stack = false): string {
  if (err instanceof BlkfsError && !stack) return err.message.replace(/\s*\n\s*/g, ' ');
  return err instanceof Error ? err.stack ?? err.message : String(err);
}
