// The server's log: stderr in the foreground; a file in the cache dir once a background server knows it.
// Levels, most severe first: a logger at `info` writes error, warn and info lines.
// The file is bounded: a mount that runs for days on a failing disk logs every device error and slow read, and a
// log that filled the cache's disk would stop the rescue itself. At its size the file becomes FILE.1 (replacing
// the one before) and a new one starts with the session's first lines (what was mounted, how); the last lines are
// always in FILE. The sector states are in the cache and the mapfile, not here: older lines are only history.
import * as fs from 'fs';
import * as path from 'path';
import { BlkfsError } from '../errors';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The log file's bound: it and its one rotated predecessor hold at most twice this. */
export const MAX_LOG_FILE_BYTES = 16 * 1024 * 1024;
/** The session's first lines repeated at the top of each new file: this many at most (and a quarter of the bound). */
const HEAD_LINES = 8;

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export class Log {
  private fd: number | undefined;
  private path: string | undefined;
  /** Lines written before toFile() when nobody reads stderr (a background server): they open the file. */
  private held: string[] | undefined;
  private readonly maxFileBytes: number;
  /** Bytes in the file now (what an earlier session left, then ours). */
  private fileBytes = 0;
  /** This session's first lines, as written to the file. */
  private readonly head: string[] = [];
  private headBytes = 0;

  constructor(
    private readonly level: LogLevel = 'info',
    opts: { holdUntilFile?: boolean; maxFileBytes?: number } = {},
  ) {
    if (opts.holdUntilFile) this.held = [];
    this.maxFileBytes = opts.maxFileBytes ?? MAX_LOG_FILE_BYTES;
  }

  /** Appends every later line (and the lines held until now) to `file` instead of stderr. */
  toFile(file: string): void {
    this.fd = fs.openSync(file, 'a', 0o600);
    fs.fchmodSync(this.fd, 0o600); // the log names the medium and its damage: private like the cache
    this.fileBytes = fs.fstatSync(this.fd).size;
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
    if (this.fd === undefined) {
      try {
        process.stderr.write(line);
      } catch {
        // stderr gone: nothing to do
      }
      return;
    }
    line = this.cut(line);
    const bytes = Buffer.byteLength(line);
    if (this.fileBytes + bytes > this.maxFileBytes && !this.rotate()) return; // not rotated: not grown either
    this.append(line, bytes);
    if (this.head.length < HEAD_LINES && this.headBytes + bytes <= this.maxFileBytes / 4) {
      this.head.push(line);
      this.headBytes += bytes;
    }
  }

  /** A line longer than a quarter of the bound (a verify report listing many ranges) keeps its start. */
  private cut(line: string): string {
    const max = Math.floor(this.maxFileBytes / 4);
    const buf = Buffer.from(line);
    if (buf.length <= max) return line;
    const keep = max - 64;
    return `${buf.subarray(0, keep).toString()}… (${buf.length - keep} more bytes of this line left out)\n`;
  }

  private append(line: string, bytes: number): void {
    try {
      fs.writeSync(this.fd!, line);
      this.fileBytes += bytes;
    } catch {
      // A log that cannot be written (disk full) must not take the server down.
    }
  }

  /** FILE → FILE.1; a new FILE that starts with the session's first lines. False if it could not be done. */
  private rotate(): boolean {
    const file = this.path!;
    try {
      fs.renameSync(file, `${file}.1`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false; // ENOENT: removed by someone: start anew
    }
    let fd: number;
    try {
      fd = fs.openSync(file, 'a', 0o600);
      fs.fchmodSync(fd, 0o600);
    } catch {
      return false; // the old file (now FILE.1) is kept open and tried again at the next line
    }
    fs.closeSync(this.fd!);
    this.fd = fd;
    this.fileBytes = 0;
    const began = this.head.length > 0 ? '; this session began with:' : '';
    const note = `${new Date().toISOString()} blkfs[${process.pid}] log rotated: earlier lines are in ${path.basename(file)}.1 (each log file is kept under ${this.maxFileBytes} bytes)${began}\n`;
    for (const line of [note, ...this.head]) this.append(line, Buffer.byteLength(line));
    return true;
  }
}

function describeError(err: unknown, stack = false): string {
  if (err instanceof BlkfsError && !stack) return err.message.replace(/\s*\n\s*/g, ' ');
  return err instanceof Error ? err.stack ?? err.message : String(err);
}
