/**
 * Pieces shared by the reading workflows (decode, check, show, repair, rescue, sort, update): byte ranges,
 * the reference block and burst level (through scan.ts), the container layout, the block-aligned pass over a
 * range, and the errors they raise.
 * Workflows never print; they return stats and throw WorkflowError / InputError with a message for the user.
 */
import { promises as fsp } from 'fs';
import { isValidBlock } from './format/header';
import { Layout } from './format/layout';
import { FileReader, RandomReader } from './reader';
import { findReferenceBlock, guessBurstLevel, ReferenceBlock, RefChoice } from './format/scan';
import { HEADER_SIZE, isEcVersion, SCAN_STEP, SbxVersion } from './format/specs';
import { OperationError, UserError } from '../errors';

/** Bad user input detected by a workflow (e.g. output exists without --force): the CLI exits 1. */
export class InputError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** The operation could not be carried out (no reference block, unguessable burst, I/O): the CLI exits 2. */
export class WorkflowError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowError';
  }
}

/** blkar's refBlockInfo: what kind of block fixed version/UID, and where it was found. */
export interface RefBlockInfo {
  type: 'metadata' | 'data';
  version: number;
  pos: number;
}

/** A byte range as blkar's --from / --to-inc / --to-exc give it. */
export interface ByteRange {
  from?: number;
  toInclusive?: number;
  toExclusive?: number;
  /** Do not round `from` down to a multiple of the alignment. */
  forceMisalign?: boolean;
}

/** blkar's `--multi-pass` ('skip-good') and `--multi-pass-no-skip` ('overwrite-all') for decode and sort. */
export type MultiPass = 'skip-good' | 'overwrite-all';

/** Progress callback: units (bytes) done and total. */
export type Progress = (unitsSoFar: number, totalUnits: number) => void;

/** Resolves a range against a file: [start, end), start rounded down to `align` unless forceMisalign; clamped. */
export function resolveRange(range: ByteRange | undefined, size: number, align: number): { start: number; end: number } {
  const r = range ?? {};
  let start = r.from ?? 0;
  if (!r.forceMisalign) start -= start % align;
  start = Math.min(start, size);
  let end = size;
  if (r.toInclusive !== undefined) end = Math.min(r.toInclusive + 1, size);
  else if (r.toExclusive !== undefined) end = Math.min(r.toExclusive, size);
  if (end < start) end = start;
  return { start, end };
}

/**
 * blkar's reference-block search range (get_ref_block!): `--ref-from`/`--ref-to-*` when given; without
 * --ref-from, a run with `--from` searches from the start of the file shifted by --from's misalignment
 * (--from mod 128), never from --from itself. `--force-misalign` applies to both.
 */
export function refSearchRange(refRange: ByteRange | undefined, range: ByteRange | undefined): ByteRange {
  const from = refRange?.from ?? (range?.from !== undefined ? range.from % SCAN_STEP : undefined);
  return { from, toInclusive: refRange?.toInclusive, toExclusive: refRange?.toExclusive, forceMisalign: !!range?.forceMisalign };
}

/**
 * The reference block of a run (sbx-format.md §8), found by scan.ts in the range: its start is rounded down to
 * 128 bytes unless `forceMisalign`. WorkflowError when there is none.
 */
export async function requireReferenceBlock(reader: RandomReader, choice: RefChoice, range?: ByteRange): Promise<ReferenceBlock> {
  const { start, end } = resolveRange(range, reader.size, SCAN_STEP);
  const ref = await findReferenceBlock(reader, choice, start, end);
  if (!ref) throw new WorkflowError('Failed to find reference block');
  return ref;
}

/** blkar's refBlockInfo of a reference block. */
export function refBlockInfo(ref: ReferenceBlock): RefBlockInfo {
  return { type: ref.header.seq === 0 ? 'metadata' : 'data', version: ref.header.version, pos: ref.pos };
}

/** D and P of an EC reference block; blkar refuses an EC metadata block without RSD/RSP (7.1.1, #210). */
export function rsParamsOf(ref: ReferenceBlock, mode: string): { d: number; p: number } {
  const d = ref.meta?.rsd;
  const p = ref.meta?.rsp;
  if (ref.meta === null) {
    throw new WorkflowError(`Reference block at byte ${ref.pos} is not a metadata block, ${mode} needs the RS parameters stored in it`);
  }
  if (d === undefined) throw new WorkflowError(`Reference block at byte ${ref.pos} does not have a RS data shard count field (RSD), which is required for ${mode}`);
  if (p === undefined) throw new WorkflowError(`Reference block at byte ${ref.pos} does not have a RS parity shard count field (RSP), which is required for ${mode}`);
  return { d, p };
}

/**
 * Where blkar starts guessing the burst level (get_guess_burst_from_pos_from_param): `--guess-burst-from`
 * rounded down to the block size; else, when `--from` is given, the start of the file shifted by --from's
 * misalignment (scan.ts counts sample positions from there, so the sample must start at a block index of 0);
 * with `forceMisalign` nothing is rounded.
 */
export function burstGuessStart(blockSize: number, guessBurstFrom: number | undefined, range?: ByteRange): number {
  const misalign = !!range?.forceMisalign;
  if (guessBurstFrom !== undefined) return misalign ? guessBurstFrom : guessBurstFrom - (guessBurstFrom % blockSize);
  if (range?.from !== undefined && misalign) return range.from % blockSize;
  return 0;
}

/** scan.ts's burst level guess for the container of `ref`, from byte `from`; null when every level ties. */
export function guessBurst(reader: RandomReader, ref: ReferenceBlock, rs: { d: number; p: number }, from = 0): Promise<number | null> {
  return guessBurstLevel(reader, { version: ref.header.version, uid: ref.header.uid, d: rs.d, p: rs.p }, from);
}

/** The container a reference block belongs to: its RS parameters and burst level (null for versions 1–3) and layout. */
export interface ContainerLayout {
  rs: { d: number; p: number } | null;
  burst: number | null;
  layout: Layout;
}

/**
 * RS parameters (from the reference metadata block; `purpose` names the workflow in the error), burst level
 * (`burst` if given, else guessed from byte `guessFrom`) and layout. An unguessable level is a WorkflowError,
 * or with `optionalBurst` a null burst and a layout built with B = 0.
 */
export async function containerLayout(
  reader: RandomReader,
  ref: ReferenceBlock,
  purpose: string,
  o: { burst?: number; guessFrom?: number; optionalBurst?: boolean } = {},
): Promise<ContainerLayout> {
  const version: SbxVersion = ref.header.version;
  const metaEnabled = ref.header.seq === 0;
  if (!isEcVersion(version)) return { rs: null, burst: null, layout: new Layout({ version, metaEnabled }) };
  const rs = rsParamsOf(ref, purpose);
  const burst = o.burst ?? (await guessBurst(reader, ref, rs, o.guessFrom ?? 0));
  if (burst === null && !o.optionalBurst) throw new WorkflowError('Failed to guess burst resistance level, please specify via --burst option');
  return { rs, burst, layout: new Layout({ version, d: rs.d, p: rs.p, burst: burst ?? 0, metaEnabled }) };
}

/** Runs `body` with a reader on `path` (size given for block devices) and closes it whatever happens. */
export async function withFileReader<T>(path: string, body: (reader: FileReader) => Promise<T>, size?: number): Promise<T> {
  const reader = await FileReader.open(path, size);
  try {
    return await body(reader);
  } finally {
    await reader.close();
  }
}

/**
 * blkar's block-aligned pass over [start, end): reads about 1 MiB at a time and calls `each(buf, off, pos)` for
 * every block (the last may be short: `buf.length - off < blockSize`); progress after each read.
 */
export async function forEachBlock(
  reader: RandomReader,
  start: number,
  end: number,
  blockSize: number,
  each: (buf: Buffer, off: number, pos: number) => void | Promise<void>,
  onProgress?: Progress,
): Promise<void> {
  const step = blockSize * Math.max(1, Math.floor((1 << 20) / blockSize));
  for (let chunkPos = start; chunkPos < end; chunkPos += step) {
    const buf = await reader.read(chunkPos, Math.min(step, end - chunkPos));
    for (let off = 0; off < buf.length; off += blockSize) {
      const r = each(buf, off, chunkPos + off);
      if (r) await r;
    }
    onProgress?.(chunkPos + buf.length - start, end - start);
  }
}

/** True iff something (file, directory, dangling link) exists at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** True iff `buf` holds a whole valid block with the reference block's version and UID (and `seq` if given). */
export function isSameContainerBlock(buf: Uint8Array, ref: ReferenceBlock, seq?: number, offset = 0): boolean {
  return isValidBlock(buf, { version: ref.header.version, uid: ref.header.uid, seq }, offset);
}

/** Seconds since `t0` (ms) for the stats' elapsed times. */
export function secondsSince(t0: number): number {
  return (Date.now() - t0) / 1000;
}

/** Size of a file or block device (st_size is 0 for block devices: ask sysfs). */
export async function inputSize(path: string): Promise<number> {
  const st = await fsp.stat(path);
  if (!st.isBlockDevice()) return st.size;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sectors = await fsp.readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8');
  return Number(sectors.trim()) * 512;
}

/** Writes all of `data` at `pos`. */
export async function writeAt(handle: fsp.FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, pos + done);
    done += bytesWritten;
  }
}

/** Checks that a recorded file size is possible for the layout (a corrupt or hostile FSZ must not make us loop for days). */
export function checkRecordedSize(layout: Layout, fsz: number): void {
  if (!Number.isSafeInteger(fsz) || fsz > layout.maxFileSize()) {
    throw new WorkflowError(
      `Recorded file size ${fsz} is larger than a version ${layout.version} container can hold (${layout.maxFileSize()} bytes); the metadata block is corrupt`,
    );
  }
}

/**
 * Hash of the first `fsz` data bytes of a container, read chunk by chunk in sequence order through the layout
 * (what `check --hash` and `update --hash` compare with HSH). A missing or invalid data block contributes
 * zeros, so the digest then differs from the recorded one. Also returns how many chunks were missing.
 */
export async function hashStoredData(
  reader: RandomReader,
  ref: ReferenceBlock,
  layout: Layout,
  fsz: number,
  hasher: { update(data: Uint8Array): void },
  onProgress?: Progress,
): Promise<{ missingChunks: number }> {
  const bs = layout.blockSize;
  const ds = layout.dataSize;
  const chunks = layout.chunkCount(fsz);
  const zero = Buffer.alloc(ds);
  let missing = 0;
  for (let k = 0; k < chunks; k++) {
    const seq = layout.seqOfChunk(k);
    const b = await reader.read(layout.seqToIndex(seq) * bs, bs);
    const ok = isSameContainerBlock(b, ref, seq);
    if (!ok) missing++;
    const payload = ok ? b.subarray(HEADER_SIZE, bs) : zero;
    hasher.update(k === chunks - 1 && fsz % ds !== 0 ? payload.subarray(0, fsz % ds) : payload);
    if (k % 256 === 0) onProgress?.(k * ds, fsz);
  }
  onProgress?.(fsz, fsz);
  return { missingChunks: missing };
}
