// `blkfs mount SOURCE MOUNTPOINT`: returns once the filesystem is ready and leaves a detached server behind;
// with -f the server runs in this process until unmounted or signalled.
import { spawn } from 'child_process';
import * as path from 'path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_READAHEAD_BYTES, MAX_READAHEAD_BYTES, MIN_READAHEAD_BYTES } from '../cache/readahead-limits'; // no imports: keeps start-up light
import { Log, LOG_LEVELS, LogLevel } from '../server/log';
import type { MountServer, MountServerOptions, ReadyInfo } from '../server/mount-server';
import { EXIT_OK, OperationError, UserError } from '../errors';
import { classifyMountError } from './mount-errors';
import { parseBlockSize } from './block-size-option';
import { collectNbdkitFilterArg } from './nbdkit-filter-option';
import { isLoopback, parseHttpAddress } from '../server/http-address';
import { mountAction } from './mount-action';
import { checkCacheArgument } from './cache-argument';
import { guardSourceOutsideCaches } from './output-guard';
import { ArchiveCliOptions, archiveOptionsOf } from './archive-options';

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
}

/** Messages from the detached server to the `blkfs mount` that started it. */
type StartupMessage = { type: 'ready'; info: ReadyInfo } | { type: 'failed'; message: string; exitCode: number };

function parseCount(what: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    // commander reports an InvalidArgumentError with exit code 1 (bad user input).
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}`);
    return n;
  };
}

/** A byte size: 65536, 512K, 4M, 4MiB (powers of 1024), within the cache's bounds (0 turns readahead off). */
function parseReadahead(text: string): number {
  const m = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ') : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_READAHEAD_BYTES || (n > 0 && n < MIN_READAHEAD_BYTES)) {
    throw new InvalidArgumentError(`--readahead must be 0 (off) or a size from ${MIN_READAHEAD_BYTES >> 10}K to ${MAX_READAHEAD_BYTES >> 20}M (e.g. 512K, 4M)`);
  }
  return n;
}

export function registerMount(program: Command): void {
  program
    .command('mount')
    .description('mount SOURCE (block device, image file, nbd:// or nbd+unix:// URI) on MOUNTPOINT with /raw, /mapfile (writable: ddrescue can drive the rescue), /status, /map.png, /map.svg, /files.txt|json|csv, /checksums, /sbx/, /rescued/')
    .argument('<source>', 'block device, image file or NBD URI')
    .argument('<mountpoint>', 'empty directory')
    .option('--cache <dir>', 'cache directory (default: one per medium under $XDG_CACHE_HOME/blkfs/)')
    .option('--block-size <n>', 'sector size in bytes (default: detected; 2048 for CD/DVD, 512 otherwise)', parseBlockSize)
    .option('--retries <n>', 'read bad sectors again up to N times when asked again', parseCount('--retries', 0))
    .option(
      '--readahead <size>',
      `prefetch up to SIZE ahead of a sequential reader, stopping at the first error or slow read (64K to 32M, default ${DEFAULT_READAHEAD_BYTES >> 20}M; 0: read only what is asked)`,
      parseReadahead,
    )
    .option('-f, --foreground', 'stay in the foreground until unmounted (Ctrl-C unmounts)')
    .option(
      '--nbdkit-filter <arg>',
      'nbdkit filter name, or key=value parameter for one (repeatable; outermost filter first)',
      collectNbdkitFilterArg,
      [] as string[],
    )
    .option('--dat <file>', 'Logiqx XML DAT (redump, No-Intro): /checksums and /status name the matching entry once the image is complete')
    .option('--http <host:port>', 'serve a read-only web page of the rescue (e.g. 127.0.0.1:8080; port 0 picks one, see blkfs status)')
    .addOption(new Option('--log-level <level>', 'mount log detail').choices([...LOG_LEVELS]).default('info'))
    .option('--slow-read <ms>', 'log device reads slower than this as warnings', parseCount('--slow-read', 1), 1000)
    .addOption(new Option('--notify-parent').hideHelp())
    .action(
      mountAction(async (source: string, mountpoint: string, opts: MountOpts) => {
      guardSourceOutsideCaches(source);
      const filters = opts.nbdkitFilter.filter((a) => !a.includes('='));
      const params = opts.nbdkitFilter.filter((a) => a.includes('='));
      const serverOpts: ServerOpts = {
        source,
        mountpoint,
        cacheDir: opts.cache !== undefined ? checkCacheArgument(opts.cache, mountpoint) : undefined,
        blockSize: opts.blockSize,
        retries: opts.retries,
        readaheadBytes: opts.readahead ?? DEFAULT_READAHEAD_BYTES,
        nbdkitFilters: filters,
        nbdkitArgs: params,
        archive: archiveOptionsOf(opts),
        datFile: opts.dat !== undefined ? path.resolve(opts.dat) : undefined,
        http: opts.http !== undefined ? httpAddress(opts.http, !opts.notifyParent) : undefined,
        slowReadMs: opts.slowRead,
        logLevel: opts.logLevel,
      };
      if (opts.notifyParent) return runDetachedServer(serverOpts);
      if (opts.foreground) return runForeground(serverOpts);
      return startInBackground(process.argv.slice(2));
      }),
    );
}

type ServerOpts = Omit<MountServerOptions, 'log'> & { logLevel: LogLevel };

/** --http's address; a non-loopback one is allowed, with a warning (once, from the command the user ran). */
function httpAddress(text: string, warn: boolean): { host: string; port: number } {
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
    throw classifyMountError(err, { startup: true });
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
  const tell = (msg: StartupMessage) =>
    new Promise<void>((resolve) => (process.send ? process.send(msg, () => resolve()) : resolve()));
  let server: MountServer;
  try {
    const { MountServer } = await import('../server/mount-server');
    server = await MountServer.start({ ...opts, log, logToCacheDir: true });
  } catch (err) {
    const e = classifyMountError(err, { startup: true });
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
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'main.js'), ...args, '--notify-parent'], {
    detached: true, // own session: the terminal's SIGINT/SIGHUP do not reach the server
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
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
