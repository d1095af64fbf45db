// Shared by bench/crash-torture.ts and bench/crash-torture-outputs.ts: the seeded choices, findings, the processes
// started (only ours are ever signalled), the nbdkit log's reads with their times, and a cache's committed state.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { StateStore } from '../src/cache/state-store';
import { controlSocketPath } from '../src/server/control-protocol';

export const SS = 512;
const MAIN_JS = path.resolve(__dirname, '../src/cli/main.js');

let seed = 1;
export function setSeed(n: number): void {
  seed = n || 1;
}
export function rnd(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return Math.floor((seed / 0x80000000) * n);
}

export const findings: string[] = [];
export function finding(text: string): void {
  findings.push(text);
  console.log(`FINDING: ${text}`);
}

// ------------------------------------------------------------------------------------------------ processes

export const children = new Set<ChildProcess>();
export interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}
export function start(cmd: string, args: string[]): { child: ChildProcess; done: Promise<Done> } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Done>((resolve) =>
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, done };
}
export function blkfs(args: string[]): { child: ChildProcess; done: Promise<Done> } {
  return start(process.execPath, [MAIN_JS, ...args]);
}
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A killed process whose leader is a zombie may still have threads exiting (one in an fdatasync) that hold its files.
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')) || fs.readdirSync(`/proc/${pid}/task`).length > 1;
  } catch {
    return false;
  }
}
export function mounted(mnt: string): boolean {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === mnt);
}

/** Called before every mount (main() restarts its nbdkit there if it died). */
let beforeMount: () => Promise<void> = async () => undefined;
export function setBeforeMount(f: () => Promise<void>): void {
  beforeMount = f;
}

/** `blkfs mount`; returns the server pid. */
export async function mount(uri: string, mnt: string, cache: string): Promise<number> {
  await beforeMount();
  const r = await blkfs(['mount', uri, mnt, '--cache', cache]).done;
  if (r.code !== 0) throw new Error(`mount failed (${r.code}): ${r.stderr}`);
  const pid = Number(/server pid (\d+)/.exec(r.stderr)?.[1]);
  if (!(pid > 0)) throw new Error(`no server pid in: ${r.stderr}`);
  return pid;
}

/** kill -9 of OUR server, then the dead FUSE mount is cleaned (fusermount3 -uz on our mountpoint). */
export async function killServer(pid: number, mnt: string, cache: string): Promise<void> {
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(25);
  if (alive(pid)) throw new Error(`server ${pid} survived SIGKILL`);
  if (mounted(mnt)) await start('fusermount3', ['-uz', mnt]).done;
  fs.rmSync(controlSocketPath(pid, cache), { force: true });
  fs.rmSync(controlSocketPath(pid), { force: true });
}


// ------------------------------------------------------------------------------------------------ the nbdkit log

export interface Read {
  offset: number;
  count: number;
  sent: number; // ms since epoch
  returned?: number;
  ok?: boolean;
}
const REQUEST = /^(\S+ \S+) connection=(\d+) Read id=(\d+) offset=(0x[0-9a-fA-F]+|\d+) count=(0x[0-9a-fA-F]+|\d+)/;
const RETURN = /^(\S+ \S+) connection=(\d+) \.\.\.Read id=(\d+) return=(-?\d+)/;
const stamp = (t: string) => Date.parse(t.replace(' ', 'T') + 'Z');

/** Reads logged in bytes [from, to) of the log file. Request ids are per connection; connections are numbered per run. */
export function readsIn(logFile: string, from: number, to: number): Read[] {
  const fd = fs.openSync(logFile, 'r');
  const buf = Buffer.alloc(to - from);
  fs.readSync(fd, buf, 0, buf.length, from);
  fs.closeSync(fd);
  const text = buf.toString('utf8');
  const reads: Read[] = [];
  const open = new Map<string, Read>();
  for (const line of text.split('\n')) {
    const q = REQUEST.exec(line);
    if (q) {
      const r: Read = { offset: Number(q[4]), count: Number(q[5]), sent: stamp(q[1]) };
      reads.push(r);
      open.set(`${q[2]}/${q[3]}`, r);
      continue;
    }
    const a = RETURN.exec(line);
    const r = a && open.get(`${a[2]}/${a[3]}`);
    if (a && r) {
      open.delete(`${a[2]}/${a[3]}`);
      r.returned = stamp(a[1]);
      r.ok = a[4] === '0';
    }
  }
  return reads;
}

// ------------------------------------------------------------------------------------------------ the cache

/** Per-sector committed state of a cache directory (its database; nothing serves it), or undefined when none yet. */
export type State = { status: Uint8Array; probes: Set<number> };
export function committedState(cache: string, sectors: number): State | undefined {
  if (!fs.existsSync(path.join(cache, 'state.sqlite'))) return undefined;
  const store = StateStore.open(path.join(cache, 'state.sqlite'), cache);
  try {
    const id = store.identity();
    if (!id) return undefined;
    const status = new Uint8Array(sectors);
    for (const e of store.loadSectorMap(sectors).extents()) status.fill(e.status.charCodeAt(0), e.start, e.start + e.count);
    return { status, probes: new Set(id.probeSectors) };
  } finally {
    store.close();
  }
}

export const PLUS = '+'.charCodeAt(0);
export const MINUS = '-'.charCodeAt(0);

/** Every '+' byte of the cache's data file equals the medium's. Returns the wrong sectors (ranges). */
export function wrongPlusSectors(cache: string, status: Uint8Array, medium: Buffer): [number, number][] {
  const data = fs.readFileSync(path.join(cache, 'data.img'));
  const wrong: [number, number][] = [];
  for (let s = 0; s < status.length; s++) {
    if (status[s] !== PLUS) continue;
    const a = s * SS;
    if (!data.subarray(a, a + SS).equals(medium.subarray(a, a + SS))) {
      const last = wrong[wrong.length - 1];
      if (last && last[1] === s) last[1]++;
      else wrong.push([s, s + 1]);
    }
  }
  return wrong;
}

export async function verifyCache(cache: string, label: string): Promise<void> {
  const v = await blkfs(['verify', '--cache', cache, '--json', '-q']).done;
  let report: { adoptedBytes?: number; damaged?: unknown[] } = {};
  try {
    report = JSON.parse(v.stdout);
  } catch {
    /* reported below */
  }
  if (v.code !== 0 || (report.damaged?.length ?? 1) !== 0) finding(`${label}: blkfs verify exit ${v.code}: ${v.stdout.slice(0, 400)} ${v.stderr.slice(0, 400)}`);
  if ((report.adoptedBytes ?? 0) !== 0) finding(`${label}: verify adopted ${report.adoptedBytes} '+' bytes that had no checksum`);
}

export const describeSectors = (set: number[]) => {
  const out: string[] = [];
  for (let i = 0; i < set.length && out.length < 6; ) {
    let j = i;
    while (j + 1 < set.length && set[j + 1] === set[j] + 1) j++;
    out.push(j > i ? `${set[i]}-${set[j]}` : `${set[i]}`);
    i = j + 1;
  }
  return out.join(',') + (set.length > 0 ? ` (${set.length} sectors)` : '');
};
