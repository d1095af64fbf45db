// Option parsing shared by the `blkfs sbx` commands: blkar's option names, defaults and error messages
// (cli_macros.rs / cli_utils.rs), turned into UserError (exit 1).
import * as fs from 'fs';
import { Interrupted, UserError } from '../../errors';
import { Printer, ProgressLevel } from './report';
import { classify } from './common';
import { endOfSignal } from '../../stop-signals';
import type { ByteRange } from '../../sbx/byte-range';
import type { MultiPass } from '../../sbx/file-io';

export interface CommonOpts {
  json?: boolean;
  pv?: string;
  verbose?: boolean;
}

export interface RangeOpts {
  from?: string;
  skipTo?: string;
  toInc?: string;
  toExc?: string;
  forceMisalign?: boolean;
}

export interface RefRangeOpts {
  refFrom?: string;
  refToInc?: string;
  refToExc?: string;
}

export interface MultiPassOpts {
  multiPass?: boolean;
  multiPassNoSkip?: boolean;
}

export interface GuessBurstOpts {
  burst?: string;
  guessBurstFrom?: string;
}

export function parseMultiPass(o: MultiPassOpts): MultiPass | undefined {
  if (o.multiPass && o.multiPassNoSkip) throw new UserError('--multi-pass and --multi-pass-no-skip cannot be used together');
  if (o.multiPass) return 'skip-good';
  return o.multiPassNoSkip ? 'overwrite-all' : undefined;
}

/** A malformed --pv found while making a printer: runCommand reports it through that printer (JSON or not). */
const printerSetupErrors = new WeakMap<Printer, unknown>();

/** The printer for a run; decoding to stdout sends reports to stderr. */
export function printerFor(opts: CommonOpts, { reportToStderr = false } = {}): Printer {
  let progressLevel: ProgressLevel | undefined;
  let setupError: unknown;
  try {
    progressLevel = parseProgressLevel(opts.pv);
  } catch (err) {
    setupError = err;
  }
  const printer = new Printer({ json: !!opts.json, progressLevel, reportToStderr });
  if (setupError !== undefined) printerSetupErrors.set(printer, setupError);
  return printer;
}

export function parseProgressLevel(pv: string | undefined): ProgressLevel | undefined {
  if (pv === undefined) return undefined;
  if (pv === '0' || pv === '1' || pv === '2') return Number(pv) as ProgressLevel;
  throw new UserError('Invalid progress report verbosity level');
}

const U64_MAX = (1n << 64n) - 1n;

/** Rust's u64/usize `from_str`, as blkar parses numbers: an optional "+", decimal digits, at most 2^64 − 1. */
function parseRustUnsigned(text: string): bigint | undefined {
  if (!/^\+?[0-9]+$/.test(text)) return undefined;
  const n = BigInt(text);
  return n <= U64_MAX ? n : undefined;
}

/**
 * A decimal u64 as blkar takes it ("+3", "007", up to 18446744073709551615), exactly: positions are compared as
 * bigints and clamped to the file (byte-range.ts), so "to the end" said as u64 max works as it does in blkar.
 */
export function parseU64(text: string, what: string): bigint {
  const n = parseRustUnsigned(text);
  if (n === undefined) throw new UserError(`Invalid ${what}`);
  return n;
}

export function parseRange(o: RangeOpts): ByteRange {
  if (o.toInc !== undefined && o.toExc !== undefined) {
    throw new UserError('--to-inc and --to-exc cannot be used together');
  }
  const fromText = o.from ?? o.skipTo;
  return {
    from: fromText === undefined ? undefined : parseU64(fromText, 'from position'),
    toInclusive: o.toInc === undefined ? undefined : parseU64(o.toInc, 'to inc position'),
    toExclusive: o.toExc === undefined ? undefined : parseU64(o.toExc, 'to exc position'),
    forceMisalign: !!o.forceMisalign,
  };
}

export function parseRefRange(o: RefRangeOpts): ByteRange {
  if (o.refToInc !== undefined && o.refToExc !== undefined) {
    throw new UserError('--ref-to-inc and --ref-to-exc cannot be used together');
  }
  return {
    from: o.refFrom === undefined ? undefined : parseU64(o.refFrom, 'ref from position'),
    toInclusive: o.refToInc === undefined ? undefined : parseU64(o.refToInc, 'ref to inc position'),
    toExclusive: o.refToExc === undefined ? undefined : parseU64(o.refToExc, 'ref to exc position'),
  };
}

export function parseGuessBurstFrom(o: GuessBurstOpts): bigint | undefined {
  return o.guessBurstFrom === undefined ? undefined : parseU64(o.guessBurstFrom, 'guess burst from position');
}

/** A usize option (shard counts, burst level) as blkar parses it; `failed` is blkar's message for a non-number. */
function parseUsize(text: string, failed: string, tooLarge: string): number {
  const n = parseRustUnsigned(text);
  if (n === undefined) throw new UserError(failed);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(tooLarge);
  return Number(n);
}

export function parseBurst(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return parseUsize(text, 'Failed to parse burst error resistance level', `Burst error resistance level ${text} is too large`);
}

export function parseUid(text: string): Buffer {
  if (!/^[0-9a-fA-F]*$/.test(text) || text.length % 2 !== 0) {
    if (/^[0-9a-fA-F]*$/.test(text)) {
      throw new UserError(`UID provided does not have the correct number of hex digits, provided : ${text.length}, need : 12`);
    }
    throw new UserError('UID provided is not a valid hex string');
  }
  if (text.length !== 12) {
    throw new UserError(`UID provided does not have the correct number of hex digits, provided : ${text.length}, need : 12`);
  }
  return Buffer.from(text, 'hex');
}

/** blkar's "File \"X\" does not exist" check (exit 1); block devices and FIFOs count as existing. */
export function requireExisting(path: string): void {
  if (!fs.existsSync(path)) throw new UserError(`File "${path}" does not exist`);
  if (fs.statSync(path).isDirectory()) throw new UserError(`"${path}" is a directory`);
}

/**
 * requireExisting, then a container read at random positions (blocks by index, metadata copies, burst guess):
 * a pipe, socket or character device cannot seek and would only yield "Failed to find reference block".
 */
export function requireRandomAccess(path: string, command: string): void {
  requireExisting(path);
  const st = fs.statSync(path);
  if (st.isFile() || st.isBlockDevice()) return;
  const kind = st.isFIFO() ? 'a pipe (FIFO)' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : 'not a regular file';
  throw new UserError(`File "${path}" is ${kind}: ${command} needs a regular file or block device (it reads blocks at random positions)`);
}

export function isDirectory(path: string): boolean {
  try {
    return fs.statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The value of `--sbx-version`, one of 1, 2, 3, 17, 18, 19. */
export function parseVersion(text: string): 1 | 2 | 3 | 17 | 18 | 19 {
  // blkar matches the exact strings (sbx_specs::string_to_ver): "017" or "+17" is not a version.
  if (!['1', '2', '3', '17', '18', '19'].includes(text)) throw new UserError('Invalid SBX version');
  return Number(text) as 1 | 2 | 3 | 17 | 18 | 19;
}

export interface EncodingParams {
  version: 1 | 2 | 3 | 17 | 18 | 19;
  dataShards: number;
  parityShards: number;
  burst: number;
}

/** --sbx-version, --rs-data, --rs-parity, --burst of the commands that lay out a container (encode, calc). */
export interface EncodingOpts {
  sbxVersion?: string;
  rsData?: string;
  rsParity?: string;
  burst?: string;
}

/**
 * blkar 7.2.7's defaulting rules (§9.1): no --sbx-version → 17/10/2/12 and then --rs-data/--rs-parity/--burst
 * are a usage error; an explicit 17–19 makes --rs-data and --rs-parity mandatory and --burst default to 0.
 */
export function resolveEncodingParams(o: EncodingOpts): EncodingParams {
  if (o.sbxVersion === undefined) {
    // blkar's messages (cli_macros.rs get_ver_and_data_par_burst_w_defaults), in its order.
    if (o.rsData !== undefined) throw new UserError('Please state the SBX version explicitly if you want to use a custom Reed-Solomon data shard count');
    if (o.rsParity !== undefined) throw new UserError('Please state the SBX version explicitly if you want to use a custom Reed-Solomon parity shard count');
    if (o.burst !== undefined) throw new UserError('Please state the SBX version explicitly if you want to use a custom burst error resistance level');
    return { version: 17, dataShards: 10, parityShards: 2, burst: 12 };
  }
  const version = parseVersion(o.sbxVersion);
  if (version < 17) return { version, dataShards: 0, parityShards: 0, burst: 0 };
  if (o.rsData === undefined) {
    throw new UserError(`Reed-Solomon erasure code data shard count must be specified for version ${version}`);
  }
  if (o.rsParity === undefined) {
    throw new UserError(`Reed-Solomon erasure code parity shard count must be specified for version ${version}`);
  }
  // More than 2^53 shards is "Too many shards" below, as any count above 256.
  const dataShards = parseUsize(o.rsData, 'Failed to parse Reed-Solomon erasure code data shard count', 'Too many shards for Reed-Solomon erasure code');
  const parityShards = parseUsize(o.rsParity, 'Failed to parse Reed-Solomon erasure code parity shard count', 'Too many shards for Reed-Solomon erasure code');
  if (dataShards < 1) throw new UserError('Too few data shards for Reed-Solomon erasure code');
  if (parityShards < 1) throw new UserError('Too few parity shards for Reed-Solomon erasure code');
  if (dataShards + parityShards > 256) throw new UserError('Too many shards for Reed-Solomon erasure code');
  return { version, dataShards, parityShards, burst: parseBurst(o.burst) ?? 0 };
}

/** blkar's prompt; anything but an answer starting with "y" means no. */
export async function askToContinue(out: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  out.write('Do you wish to continue? [y/N] ');
  const answer = await readOneLine();
  return answer.startsWith('y');
}

function readOneLine(): Promise<string> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    let acc = '';
    const done = (s: string) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.pause();
      resolve(s);
    };
    const onData = (chunk: Buffer | string) => {
      acc += chunk.toString();
      if (acc.includes('\n')) done(acc);
    };
    const onEnd = () => done(acc);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

/** Run a command body with the printer: print its report or its error, then set the exit code (end of the signal when stopped). */
export async function runCommand(printer: Printer, body: () => Promise<number>): Promise<void> {
  let code: number;
  try {
    if (printerSetupErrors.has(printer)) throw printerSetupErrors.get(printer);
    code = await body();
  } catch (err) {
    code = printer.error(classify(err));
    if (err instanceof Interrupted) endOfSignal(err.signal); // its output kept: a read may wait on a pipe for ever
  }
  process.exitCode = code;
}
