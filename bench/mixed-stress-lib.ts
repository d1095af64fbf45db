// Shared pieces of bench/mixed-stress: findings, a deterministic random medium with a FAT filesystem and an SBX
// container inside, checks of a reader's bytes against the medium, the server's memory, the nbdkit read log.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BadRange, run, truthMapfile } from '../test/integration/mount/harness';
import { readNbdkitLog, overlaps, union, Range } from '../test/helpers/nbdkit-log';
import { SHIM_REQUEST_BYTES } from '../src/fuse/request-size';

export const MiB = 1 << 20;
export const SECTOR = 512;
export const MAIN_JS = path.resolve(__dirname, '../src/cli/main.js');
export const PREAD_PY = path.resolve(__dirname, '../../bench/mixed-stress-pread.py');

/** What a run found: counts of what was done, and violations of rules 1 and 3 (or anything else suspicious). */
export class Findings {
  readonly counts = new Map<string, number>();
  readonly problems: string[] = [];
  readonly notes: string[] = [];
  count(what: string, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }
  /** A figure kept at its largest over the run (memory). */
  max(what: string, n: number): void {
    this.counts.set(what, Math.max(this.counts.get(what) ?? 0, n));
  }
  problem(msg: string): void {
    this.problems.push(msg);
    process.stdout.write(`  PROBLEM: ${msg}\n`);
  }
  note(msg: string): void {
    this.notes.push(msg);
    process.stdout.write(`  note: ${msg}\n`);
  }
}

/** Deterministic random bytes (AES-128-CTR of zeros, keyed by the seed): a run can be repeated byte for byte. */
export function randomBytes(size: number, seed: string): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest().subarray(0, 16);
  const c = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(size)), c.final()]);
}

export interface Medium {
  image: Buffer;
  imagePath: string;
  bad: BadRange[];
  badPath: string; // JSON [[offset, length], ...] for the pread readers
  payload: Buffer; // the file inside the SBX container
  fatFiles: Map<string, Buffer>;
}

/**
 * `mib` MiB of random bytes; the first 16 MiB a FAT16 filesystem holding a few random files; an SBX v17 container
 * of a 3 MiB file at 40% of the medium; bad clusters in a file, in the container, in random data and at the end.
 */
export async function makeMedium(dir: string, mib: number, seed: string): Promise<Medium> {
  const size = mib * MiB;
  const image = randomBytes(size, seed);
  const fat = path.join(dir, 'fat.img');
  fs.rmSync(fat, { force: true });
  await mustRun('mkfs.vfat', ['-C', '-F', '16', fat, String(16 * 1024)]);
  const fatFiles = new Map<string, Buffer>();
  for (let i = 0; i < 12; i++) {
    const name = `F${i}.BIN`;
    const body = randomBytes(64 * 1024 * (1 + ((i * 7) % 11)), `${seed}/fat/${i}`);
    fs.writeFileSync(path.join(dir, name), body);
    await mustRun('mcopy', ['-i', fat, path.join(dir, name), `::${name}`]);
    fatFiles.set(name, body);
  }
  fs.readFileSync(fat).copy(image, 0);
  const payload = randomBytes(3 * MiB, `${seed}/payload`);
  fs.writeFileSync(path.join(dir, 'payload.bin'), payload);
  const sbxPath = path.join(dir, 'payload.ecsbx');
  fs.rmSync(sbxPath, { force: true });
  await mustRun(process.execPath, [MAIN_JS, 'sbx', 'encode', '-f', '--sbx-version', '17', '--rs-data', '10', '--rs-parity', '2', '--burst', '4', '--uid', '0123456789ab', path.join(dir, 'payload.bin'), sbxPath]);
  const sbxAt = Math.floor((size * 0.4) / MiB) * MiB;
  fs.readFileSync(sbxPath).copy(image, sbxAt);
  const s = (n: number) => Math.floor(n / SECTOR) * SECTOR;
  const bad: BadRange[] = [
    { offset: 4 * MiB + 0x3000, length: 0x1000 }, // inside a FAT file's data
    { offset: sbxAt + 0x20000, length: 0x2000 }, // inside the SBX container (parity covers it)
    { offset: s(size * 0.25) + 0x600, length: 0x10000 }, // a 64 KiB cluster
    { offset: s(size * 0.6) + 0x200, length: 0x200 }, // single sectors
    { offset: s(size * 0.6) + 0x1000, length: 0x200 },
    { offset: s(size * 0.83), length: 0x800 },
    { offset: size - SECTOR, length: SECTOR }, // the last sector
  ].sort((a, b) => a.offset - b.offset);
  const imagePath = path.join(dir, 'medium.img');
  fs.writeFileSync(imagePath, image);
  fs.writeFileSync(path.join(dir, 'truth.map'), truthMapfile(size, bad));
  const badPath = path.join(dir, 'bad.json');
  fs.writeFileSync(badPath, JSON.stringify(bad.map((b) => [b.offset, b.length])));
  return { image, imagePath, bad, badPath, payload, fatFiles };
}

export async function mustRun(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The lowest bad byte in [lo, hi), or undefined. */
export function firstBad(bad: readonly BadRange[], lo: number, hi: number): number | undefined {
  if (hi <= lo) return undefined;
  for (const b of bad) {
    if (b.offset + b.length <= lo) continue;
    if (b.offset >= hi) return undefined;
    return Math.max(lo, b.offset);
  }
  return undefined;
}

/** FUSE's largest request (256 pages: `blkfs mount` preloads fuse-max-pages.so): /raw fails a request of whole pages
 * holding a bad sector whole. */
const FUSE_REQUEST_BYTES = SHIM_REQUEST_BYTES;

/**
 * Whether a read of [.., readEnd) may stop (short, or EIO) at `at`: at a bad sector, or at the start of a request of
 * whole pages holding one (README, /raw: a mapped file's pages are never zero-filled, so such a request is EIO whole).
 */
export function mayStopAt(bad: readonly BadRange[], at: number, readEnd: number): boolean {
  if (firstBad(bad, at, at + 1) !== undefined) return true;
  const request = Math.min(readEnd, at + FUSE_REQUEST_BYTES) - at;
  return at % 4096 === 0 && request % 4096 === 0 && firstBad(bad, at, at + request) !== undefined;
}

/**
 * Checks `got`, what a reader got for a read of `want` bytes at `off` (a short result is the bytes before an error or
 * a short read): the medium's bytes, no bad sector inside, and a short result stops where mayStopAt allows.
 */
export function checkRead(f: Findings, who: string, m: Medium, off: number, want: number, got: Buffer, failedAfter: boolean): void {
  const size = m.image.length;
  const expected = m.image.subarray(off, Math.min(size, off + got.length));
  if (!got.equals(expected) || got.length > Math.max(0, size - off)) {
    let i = 0;
    while (i < got.length && got[i] === m.image[off + i]) i++;
    f.problem(`${who}: bytes differ from the medium at ${off + i} (read ${off} +${want}, got ${got.length})`);
  }
  const fb = firstBad(m.bad, off, off + got.length);
  if (fb !== undefined) f.problem(`${who}: read ${off} +${want} returned bytes through the bad sector at ${fb}`);
  const end = off + got.length;
  if ((got.length < want && end < size) || failedAfter) {
    if (!mayStopAt(m.bad, end, off + want)) f.problem(`${who}: read ${off} +${want} stopped after ${got.length} bytes, at ${end}, neither a bad sector nor a request of whole pages holding one`);
  }
}

/** Samples the server's VmRSS every `ms`; stop() returns the largest sample and VmHWM (KiB). */
export function sampleRss(pid: number, ms = 250): { stop(): { maxRssKiB: number; hwmKiB: number } } {
  let maxRss = 0;
  let hwm = 0;
  const read = () => {
    try {
      const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      maxRss = Math.max(maxRss, Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0));
      hwm = Math.max(hwm, Number(/VmHWM:\s+(\d+)/.exec(st)?.[1] ?? 0));
    } catch {
      // the server is gone
    }
  };
  const timer = setInterval(read, ms);
  return {
    stop() {
      read();
      clearInterval(timer);
      return { maxRssKiB: maxRss, hwmKiB: hwm };
    },
  };
}

/** Device reads: no good byte twice, every good byte read (when `complete`), bad sectors each refused how often. */
export function checkDeviceReads(f: Findings, logFile: string, m: Medium, complete: boolean): void {
  const log = readNbdkitLog(logFile);
  const size = m.image.length;
  f.count('device reads ok', log.ok.length);
  f.count('device reads failed', log.failed.length);
  f.count('device bytes ok', log.okBytes);
  const twice = overlaps(log.ok);
  if (twice.length) f.problem(`good bytes read from the device more than once: ${fmtRanges(twice)}`);
  const okThroughBad = log.ok.filter((r) => firstBad(m.bad, r.offset, r.offset + r.length) !== undefined);
  if (okThroughBad.length) f.problem(`nbdkit answered ok through a bad sector?? ${fmtRanges(okThroughBad)}`);
  const goodRead = union(log.ok);
  const goodTotal = goodRead.reduce((n, r) => n + r.length, 0);
  const badBytes = m.bad.reduce((n, b) => n + b.length, 0);
  if (complete && goodTotal !== size - badBytes) f.problem(`device delivered ${goodTotal} distinct good bytes, the medium has ${size - badBytes}`);
  // Failed reads of one sector (trimming/scraping): each bad sector at most once without --retries.
  const perSector = new Map<number, number>();
  for (const r of log.failed) if (r.length === SECTOR) perSector.set(r.offset, (perSector.get(r.offset) ?? 0) + 1);
  const again = [...perSector].filter(([, n]) => n > 1);
  if (again.length) f.problem(`bad sectors read alone more than once (no --retries): ${again.slice(0, 10).map(([o, n]) => `${o}×${n}`).join(', ')}`);
  const failedBytes = log.failed.reduce((n, r) => n + r.length, 0);
  f.count('device bytes in failed reads', failedBytes);
  const pending = log.reads.filter((r) => r.outcome === 'pending');
  if (pending.length) f.note(`${pending.length} device reads had no return line in the log`);
}

export function fmtRanges(rs: readonly Range[], max = 8): string {
  const s = rs.slice(0, max).map((r) => `${r.offset}+${r.length}`).join(', ');
  return rs.length > max ? `${s} … (${rs.length} ranges)` : s;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A seeded generator of integers in [0, n). */
export function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

/** Stack traces in a mount log (expected failures are one line each). */
export function stackTraces(logText: string): string[] {
  const lines = logText.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) if (/^\s+at \S/.test(lines[i]) && !/^\s+at \S/.test(lines[i - 1] ?? '')) out.push(`${lines[i - 1] ?? ''} | ${lines[i].trim()}`);
  return out;
}
