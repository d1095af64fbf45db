// The server's control socket: one JSON object per line each way. A client sends one request and reads
// replies until `done` or `error`. Used by `blkfs umount`, `acquire`, `export`, `verify` and `archive`.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ArchiveProgress } from '../archive/archive-status';
import { defaultCacheRoot } from '../cache/cache-paths';
import type { RescueScope } from '../cache/rescue-scope';
import { processExists } from '../proc-fds';

export type ControlRequest =
  /** lazy: unmount even while files are open (their next access fails); otherwise busy is an error. */
  | { cmd: 'shutdown'; lazy?: boolean }
  /** files: read the filesystem metadata, then these files' sectors (glob patterns), before the passes. scope: ddrescue's
   * -n/-N/-i/-s (absent: all phases over the whole medium); with a domain, neither metadata nor files are read first. */
  | { cmd: 'acquire'; files?: string[]; scope?: RescueScope }
  /** Stops the acquisition this connection started or joined (Ctrl-C in `blkfs acquire`). */
  | { cmd: 'cancel' }
  | { cmd: 'export'; image: string; mapfile: string; force?: boolean }
  /** blkfs verify MOUNTPOINT: every cached byte against its checksum, progress then the report. */
  | { cmd: 'verify' }
  /** `blkfs archive`: joins the acquisition while it archives; later requests on the connection report progress. */
  | { cmd: 'archive'; destinations: string[] }
  | { cmd: 'archive-progress'; progress: ArchiveProgress };

export type ControlReply =
  /** Sent at once for every first request: the server is alive and has it (the client's handshake timeout). */
  | { type: 'accepted' }
  /** note: a line for the user (e.g. why the metadata phase ended early). */
  | { type: 'progress'; bytesDone: number; bytesTotal: number; phase?: string; pass?: number; currentPos?: number; note?: string }
  | { type: 'done'; result?: unknown }
  | { type: 'error'; message: string; exitCode: number };

/** The longest request line a server takes (requests are a few hundred bytes: globs, destinations). */
export const MAX_REQUEST_LINE = 4 * 1024 * 1024;
/** The longest reply line a client takes: a verify or export report lists every damaged range in its one line. */
export const MAX_REPLY_LINE = 64 * 1024 * 1024;

/** A peer sent more than the limit without a newline (a flood, a broken peer): the connection is closed. */
export class LineTooLongError extends Error {
  constructor(readonly limit: number) {
    super(`line longer than ${limit} bytes`);
    this.name = 'LineTooLongError';
  }
}

/** Splits a byte stream into JSON lines; a line over `maxLine` characters (≥ bytes) is a LineTooLongError. */
export class LineDecoder {
  /** The unfinished line, in pieces: a long line is joined once, not copied at every chunk. */
  private parts: string[] = [];
  private partLength = 0;

  constructor(private readonly maxLine = MAX_REQUEST_LINE) {}

  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) >= 0) {
      this.keep(chunk.slice(start, nl));
      const line = this.parts.join('').trim();
      this.parts = [];
      this.partLength = 0;
      if (line !== '') out.push(JSON.parse(line));
      start = nl + 1;
    }
    this.keep(chunk.slice(start));
    return out;
  }

  private keep(piece: string): void {
    if (piece === '') return;
    this.partLength += piece.length;
    if (this.partLength > this.maxLine) {
      this.parts = [];
      throw new LineTooLongError(this.maxLine);
    }
    this.parts.push(piece);
  }
}

export function encodeLine(msg: ControlRequest | ControlReply): string {
  return JSON.stringify(msg) + '\n';
}

/**
 * Where a server listens: $XDG_RUNTIME_DIR/blkfs/<pid>.ctl, else beside the cache (the --cache directory, or the
 * default cache root's run/ directory), never as litter in /tmp. A Unix socket path is limited to 107 bytes: a
 * longer one falls back to a private (0700) directory of this user under the system temp dir.
 */
export function controlSocketPath(pid: number, cacheDir?: string, env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  const candidates = [
    ...(runtime && path.isAbsolute(runtime) ? [path.join(runtime, 'blkfs')] : []),
    cacheDir ?? path.join(defaultCacheRoot(env), 'run'),
    path.join(os.tmpdir(), `blkfs-${process.getuid?.() ?? 'user'}`),
  ];
  for (const dir of candidates) {
    const sock = path.join(dir, `${pid}.ctl`);
    if (Buffer.byteLength(sock) <= 100) return sock;
  }
  return path.join(candidates[candidates.length - 1], `${pid}.ctl`);
}

/** Makes the socket's directory (0700) and removes sockets there of servers that are gone (killed, crashed). */
export function prepareSocketDir(socketPath: string): void {
  const dir = path.dirname(socketPath);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // In the shared temp dir, a name anyone could have taken first: a symlink there would have the chmod below and
  // the socket land where another user chose, and their own directory would hand them our control socket.
  if (path.dirname(dir) === os.tmpdir()) {
    const st = fs.lstatSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
      throw new Error(`${dir} is not a directory of this user (a symlink, or another user's): remove it, or set XDG_RUNTIME_DIR`);
    }
  }
  if (!fs.existsSync(path.join(dir, 'state.sqlite'))) fs.chmodSync(dir, 0o700);
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d+)\.ctl$/.exec(name);
    if (!m || processExists(Number(m[1]))) continue;
    try {
      if (fs.lstatSync(path.join(dir, name)).isSocket()) fs.rmSync(path.join(dir, name), { force: true });
    } catch {
      /* gone meanwhile */
    }
  }
}
