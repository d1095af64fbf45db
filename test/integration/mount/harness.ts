// Test harness for the mount integration tests: real nbdkit (ddrescue filter for exact bad ranges, log
// filter outermost to count device reads), real `blkfs` processes, real kernel FUSE. Everything a test
// starts is registered here and stopped by cleanup(); mounts we did not make are never touched.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { controlSocketPath } from '../../../src/server/control-protocol';
import { mountAt } from '../../../src/fuse/mountinfo';
import { BadRange, truthMapfile } from '../../helpers/truth-mapfile';

export { BadRange, truthMapfile };

export const MAIN_JS = path.resolve(__dirname, '../../../src/cli/main.js');

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `blkfs-${tag}-`));
}

/** nbdkit's pattern: each 8-byte word is its own big-endian offset, so any misplaced byte shows. */
export function patternImage(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let off = 0; off < size; off += 8) buf.writeBigUInt64BE(BigInt(off), off);
  return buf;
}

/** Writes DIR/medium.img (`image`) and DIR/truth.map (`bad` as '-', for nbdkit's ddrescue filter). */
export function writeMedium(dir: string, image: Buffer, bad: BadRange[], name = 'medium'): { imagePath: string; mapPath: string } {
  const imagePath = path.join(dir, `${name}.img`);
  const mapPath = path.join(dir, name === 'medium' ? 'truth.map' : `${name}.truth.map`);
  fs.writeFileSync(imagePath, image);
  fs.writeFileSync(mapPath, truthMapfile(image.length, bad));
  return { imagePath, mapPath };
}

export interface MapBlock {
  pos: number;
  size: number;
  status: string;
}

/** Block lines of a mapfile (enough for tests; the real parser is the cache's). */
export function mapBlocks(text: string): MapBlock[] {
  const blocks: MapBlock[] = [];
  let sawStatus = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    if (!sawStatus) {
      sawStatus = true;
      continue;
    }
    const [pos, size, status] = line.split(/\s+/);
    blocks.push({ pos: Number(pos), size: Number(size), status });
  }
  return blocks;
}

export function rangesWithStatus(text: string, status: string): BadRange[] {
  return mapBlocks(text)
    .filter((b) => b.status === status)
    .map((b) => ({ offset: b.pos, length: b.size }));
}

// ---------------------------------------------------------------- processes

const started: ChildProcess[] = [];
const mounts: string[] = [];
/**
 * Our servers by pid, with when each started (/proc/PID/stat): a pid is used again once its process is gone (pid_max
 * is 32768 here, and make test runs two files at once), so cleanup kills a pid only while it is still our server.
 */
const servers = new Map<number, string | undefined>();

/** When process `pid` started (clock ticks since boot), or undefined when there is none. */
function startedAt(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]; // field 22, counted after "pid (comm)"
  } catch {
    return undefined;
  }
}

export interface NbdkitServer {
  uri: string;
  logFile: string;
  pid: number;
  stop(): Promise<void>;
}

/** nbdkit -r on `image` with the ddrescue filter reading `mapfile`; log filter outermost; optional delay. */
export async function startNbdkit(
  dir: string,
  image: string,
  mapfile: string,
  opts: { rdelay?: string; rate?: string; tag?: string; minBlockSize?: number } = {},
): Promise<NbdkitServer> {
  const tag = opts.tag ?? 'nbd';
  const sock = path.join(dir, `${tag}.sock`);
  const pidfile = path.join(dir, `${tag}.pid`);
  const logFile = path.join(dir, `${tag}.log`);
  // rdelay: a delay per request; rate: a bandwidth limit (a slow medium whatever the request sizes)
  // minBlockSize: the export refuses smaller or unaligned requests (NBD_INFO_BLOCK_SIZE), as some servers do
  const filters = ['--filter=log', ...(opts.minBlockSize ? ['--filter=blocksize-policy'] : []), ...(opts.rdelay ? ['--filter=delay'] : []), ...(opts.rate ? ['--filter=rate'] : []), '--filter=ddrescue'];
  const params = [
    `ddrescue-mapfile=${mapfile}`,
    `logfile=${logFile}`,
    ...(opts.rdelay ? [`rdelay=${opts.rdelay}`] : []),
    ...(opts.rate ? [`rate=${opts.rate}`] : []),
    ...(opts.minBlockSize ? [`blocksize-minimum=${opts.minBlockSize}`, 'blocksize-error-policy=error'] : []),
  ];
  fs.rmSync(sock, { force: true });
  fs.rmSync(pidfile, { force: true });
  const child = spawn('nbdkit', ['-f', '-r', '-U', sock, '-P', pidfile, ...filters, 'file', image, ...params], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.resume();
  started.push(child);
  const until = Date.now() + 10_000;
  while (!fs.existsSync(pidfile) || fs.readFileSync(pidfile, 'utf8').trim() === '') {
    if (Date.now() > until || child.exitCode !== null) throw new Error('nbdkit did not start');
    await sleep(20);
  }
  return {
    uri: `nbd+unix:///?socket=${sock}`,
    logFile,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (never read a FUSE mount synchronously). */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return start(cmd, args, opts).result;
}

/** Like run, with the child at hand (to signal it). */
export function start(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; stdin?: 'pipe' } = {},
): { child: ChildProcess; result: Promise<RunResult> } {
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  const result = new Promise<RunResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, result };
}

export function blkfs(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [MAIN_JS, ...args], opts);
}

/** `blkfs mount` in the background (as users run it); returns the server pid. */
export async function mount(source: string, mountpoint: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Promise<number> {
  fs.mkdirSync(mountpoint, { recursive: true });
  mounts.push(mountpoint);
  const r = await blkfs(['mount', source, mountpoint, ...extra], { env });
  if (r.code !== 0) throw new Error(`blkfs mount failed (${r.code}): ${r.stderr}`);
  const pid = Number(/server pid (\d+)/.exec(r.stderr)?.[1]);
  servers.set(pid, startedAt(pid));
  return pid;
}

export async function umount(mountpoint: string): Promise<void> {
  const r = await blkfs(['umount', mountpoint]);
  if (r.code !== 0) throw new Error(`blkfs umount failed (${r.code}): ${r.stderr}`);
}

export async function readStatus(mountpoint: string): Promise<Record<string, number> & { server: { pid: number; cacheDir: string } }> {
  return JSON.parse(await fs.promises.readFile(path.join(mountpoint, 'status'), 'utf8'));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}


/** Unmounts our mounts, stops our servers and nbdkits, then removes `dir` if given. Safe to call more than once. */
export async function cleanup(dir?: string): Promise<void> {
  for (const mnt of mounts.splice(0)) {
    if (!mountAt(mnt)) continue;
    const r = await blkfs(['umount', mnt], { timeoutMs: 30_000 });
    if (r.code !== 0 && mountAt(mnt)) await run('fusermount3', ['-uz', mnt]);
  }
  for (const [pid, started] of [...servers]) {
    servers.delete(pid);
    if (pid > 0 && started !== undefined && startedAt(pid) === started) process.kill(pid, 'SIGKILL');
  }
  for (const child of started.splice(0)) await stopChild(child);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** SIGTERM to a child process a test started (nbdkit), and its exit awaited; nothing if it has ended. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** Forget a server pid we killed on purpose (kill -9 tests), and remove the control socket it left behind. */
export function forgetServer(pid: number): void {
  servers.delete(pid);
  fs.rmSync(controlSocketPath(pid), { force: true });
}
