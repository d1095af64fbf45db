// `blkfs mount SOURCE MOUNTPOINT`: returns once the filesystem is ready and leaves a detached server behind;
// with -f the server runs until unmounted or signalled, in this process or in a child tied to it (foreground-child.ts).
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_READAHEAD_BYTES } from '../cache/readahead-limits';
import { Log, LogLevel } from '../server/log';
import type { MountServer, MountServerOptions, ReadyInfo } from '../server/mount-server';
import { EXIT_OK, OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import { ArchiveCliOptions, archiveOptionsOf } from './archive-options';
import { withServerPreloads } from '../fuse/server-preloads';
import { canServeInChild, foregroundChild } from './foreground-child';

interface MountOpts extends ArchiveCliOptions {
  cache?: string;
  blockSize?: number;
  retries?: number;
  readahead?: number;
  foreground?: boolean;
  nbdkitFilter: string[];
  notifyParent?: boolean;
  dat?: string;
  http?: string;
  logLevel: LogLevel;
  slowRead: number;
  allowOther?: boolean;
}

/** Messages from the detached server to the `blkfs mount` that started it. */
type StartupMessage = { type: 'ready'; info: ReadyInfo } | { type: 'failed'; message: string; exitCode: number };

export const runMount = mountAction(async (source: string, mountpoint: string, opts: MountOpts) => {
  const [{ guardSourceOutsideCaches }, { checkCacheArgument }, { checkMountLayout }] = await Promise.all([
    import('./output-guard'),
    import('./cache-argument'),
    import('./mount-layout'),
  ]);
  guardSourceOutsideCaches(source);
  const cacheDir = opts.cache !== undefined ? checkCacheArgument(opts.cache, mountpoint) : undefined;
  checkMountLayout(mountpoint, cacheDir);
  if (opts.allowOther) checkAllowOtherPermitted();
  const filters = opts.nbdkitFilter.filter((a) => !a.includes('='));
  const params = opts.nbdkitFilter.filter((a) => a.includes('='));
  const serverOpts: ServerOpts = {
    source,
    mountpoint,
    cacheDir,
    blockSize: opts.blockSize,
    retries: opts.retries,
    readaheadBytes: opts.readahead ?? DEFAULT_READAHEAD_BYTES,
    nbdkitFilters: filters,
    nbdkitArgs: params,
    archive: await archiveOptionsOf(opts),
    datFile: opts.dat !== undefined ? path.resolve(opts.dat) : undefined,
    http: opts.http !== undefined ? await httpAddress(opts.http, !opts.notifyParent) : undefined,
    slowReadMs: opts.slowRead,
    allowOther: opts.allowOther,
    logLevel: opts.logLevel,
  };
  if (opts.notifyParent) return runDetachedServer(serverOpts);
  if (opts.foreground) {
    const env = withServerPreloads();
    if (env === process.env || !canServeInChild()) return runForeground(serverOpts);
    return foregroundChild(process.argv.slice(2), env);
  }
  return startInBackground(process.argv.slice(2));
});

type ServerOpts = Omit<MountServerOptions, 'log'> & { logLevel: LogLevel };

/** --http's address; a non-loopback one is allowed, with a warning (once, from the command the user ran). */
async function httpAddress(text: string, warn: boolean): Promise<{ host: string; port: number }> {
  const { isLoopback, parseHttpAddress } = await import('../server/http-address');
  let a: { host: string; port: number };
  try {
    a = parseHttpAddress(text);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (warn && !isLoopback(a.host)) {
    process.stderr.write(`blkfs: warning: --http ${text} is not a loopback address: anyone who can reach it can read and download the rescue\n`);
  }
  return a;
}

async function runForeground(opts: ServerOpts): Promise<void> {
  const log = new Log(opts.logLevel);
  let server: MountServer;
  try {
    const { MountServer } = await import('../server/mount-server');
    server = await MountServer.start({ ...opts, log });
  } catch (err) {
    throw (await import('./mount-errors')).classifyMountError(err, { startup: true });
  }
  server.handleSignals();
  exitOnUnexpectedErrors(server, log);
  const { info } = server;
  log.info(`ready: ${info.mountpoint} (server pid ${info.pid}, cache ${info.cacheDir}); Ctrl-C or blkfs umount to stop`);
  process.exit(await server.exited);
}

/** A bug must not leave a mount whose server is gone: log it, unmount, flush, exit 2. */
function exitOnUnexpectedErrors(server: MountServer, log: Log): void {
  const fail = (err: unknown) => {
    log.unexpected('unexpected error', err);
    void server.shutdown('unexpected error', 2);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

/** The child of a background mount: reports ready or failed over IPC, then serves on its own. */
async function runDetachedServer(opts: ServerOpts): Promise<void> {
  const log = new Log(opts.logLevel, { holdUntilFile: true }); // its stderr goes nowhere
  // The log's first line: what was mounted and with which options (kept at the top of the log when it rotates).
  log.info(`started: blkfs ${commandLine(process.argv.slice(2).filter((a) => a !== '--notify-parent'))}`);
  const tell = (msg: StartupMessage) =>
    new Promise<void>((resolve) => (process.send ? process.send(msg, () => resolve()) : resolve()));
  let server: MountServer;
  try {
    const { MountServer } = await import('../server/mount-server');
    server = await MountServer.start({ ...opts, log, logToCacheDir: true });
  } catch (err) {
    const e = (await import('./mount-errors')).classifyMountError(err, { startup: true });
    await tell({ type: 'failed', message: e.message, exitCode: e.exitCode });
    process.exit(e.exitCode);
  }
  server.handleSignals();
  exitOnUnexpectedErrors(server, log);
  await tell({ type: 'ready', info: server.info });
  process.disconnect?.();
  process.exit(await server.exited);
}

/** Forks the server (same arguments plus --notify-parent), waits for its verdict, and leaves it running. */
async function startInBackground(args: string[]): Promise<void> {
  const { spawn } = await import('child_process');
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'main.js'), ...args, '--notify-parent'], {
    detached: true, // own session: the terminal's SIGINT/SIGHUP do not reach the server
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: withServerPreloads(),
  });
  const verdict = await new Promise<StartupMessage>((resolve) => {
    child.once('message', (msg) => resolve(msg as StartupMessage));
    child.once('exit', (code, signal) =>
      resolve({ type: 'failed', message: `the blkfs server exited before it was ready (${signal ?? `exit ${code}`})`, exitCode: 2 }),
    );
    child.once('error', (err) => resolve({ type: 'failed', message: `cannot start the blkfs server: ${err.message}`, exitCode: 2 }));
  });
  if (verdict.type === 'failed') {
    throw verdict.exitCode === 1 ? new UserError(verdict.message) : new OperationError(verdict.message);
  }
  child.disconnect();
  child.unref();
  const { info } = verdict;
  process.stderr.write(`blkfs: mounted on ${info.mountpoint} (server pid ${info.pid}, cache ${info.cacheDir})\n`);
  if (info.http) process.stderr.write(`blkfs: web page on ${info.http}\n`);
  process.exitCode = EXIT_OK;
}

/** The arguments as a shell would take them back (quoted where needed). */
function commandLine(args: string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * fusermount refuses allow_other to anyone but root unless /etc/fuse.conf says user_allow_other; its own refusal
 * reaches us only as a failed mount, so say why before starting anything (exit 1).
 */
function checkAllowOtherPermitted(): void {
  if (process.getuid?.() === 0) return;
  let conf = '';
  try {
    conf = fs.readFileSync('/etc/fuse.conf', 'latin1');
  } catch {
    // no file: the option is not allowed
  }
  if (!/^\s*user_allow_other\s*$/m.test(conf)) {
    throw new UserError('--allow-other needs root, or a line "user_allow_other" in /etc/fuse.conf (fusermount refuses it otherwise)');
  }
}
