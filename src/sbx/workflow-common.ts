/**
 * Pieces shared by the reading workflows (decode, check, show, repair, rescue, sort, update): byte ranges,
 * the reference block, burst guessing, reading one block, and the errors they raise.
 * Workflows never print; they return stats and throw WorkflowError / InputError with a message for the user.
 */
import { promises as fsp } from 'fs';
import { BlockHeader, isValidBlock, parseHeader } from './header';
import { Layout } from './layout';
import { Metadata, parseMetadataPayload } from './metadata';
import { RandomReader } from './reader';
import { blockSizeOf, HEADER_SIZE, MAX_BLOCK_SIZE, MAX_GUESSABLE_BURST, SCAN_STEP, SbxVersion } from './specs';

/** Bad user input detected by a workflow (e.g. output exists without --force): the CLI exits 1. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** The operation could not be carried out (no reference block, unguessable burst, I/O): the CLI exits 2. */
export class WorkflowError extends Error {
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

/** The block that fixes version, block size and UID for a run (sbx-format.md §8). */
export interface RefBlock {
  /** Byte position in the container. */
  pos: number;
  header: BlockHeader;
  /** Its bytes (block size). */
  bytes: Buffer;
  /** Parsed metadata when the reference block is a metadata block (seq 0). */
  meta: Metadata | null;
}

export type RefChoice = 'prefer-meta' | 'any' | 'must-be-meta';

/** A valid block found by the 128-byte scan. */
export interface ScannedBlock {
  pos: number;
  header: BlockHeader;
  bytes: Buffer;
}

/**
 * blkar's 128-byte scan over [start, end): at each step parse a header; if it parses, read that version's whole
 * block and check its CRC. Quirk kept from blkar: a header that parses but whose block fails the CRC (or is cut
 * short) makes the scanner skip the whole CLAIMED block size, not 128 bytes. Reads in large chunks.
 */
export async function* scanBlocks(
  reader: RandomReader,
  start: number,
  end: number,
  onPosition?: (pos: number) => void,
): AsyncGenerator<ScannedBlock> {
  const CHUNK = 1 << 20;
  let pos = start;
  let buf: Buffer = Buffer.alloc(0);
  let bufStart = start;
  while (pos + HEADER_SIZE <= end) {
    // Keep one largest block (or up to `end`) ahead of `pos` in memory.
    if (Math.min(pos + MAX_BLOCK_SIZE, end) > bufStart + buf.length) {
      buf = await reader.read(pos, Math.min(CHUNK, end - pos));
      bufStart = pos;
      if (buf.length < HEADER_SIZE) break;
    }
    const off = pos - bufStart;
    const h = parseHeader(buf, off);
    if (!h) {
      pos += SCAN_STEP;
      onPosition?.(pos);
      continue;
    }
    const bs = blockSizeOf(h.version);
    if (pos + bs <= end && isValidBlock(buf, undefined, off)) {
      yield { pos, header: h, bytes: Buffer.from(buf.subarray(off, off + bs)) };
    }
    pos += bs;
    onPosition?.(pos);
  }
  onPosition?.(Math.max(pos, end));
}

/**
 * Finds the reference block in [start, end) by 128-byte scan: the first valid metadata block ('prefer-meta',
 * falling back to the first valid data block), the first valid block of any kind ('any'), or only metadata
 * ('must-be-meta'). Throws WorkflowError when none is found.
 */
export async function findReferenceBlock(
  reader: RandomReader,
  choice: RefChoice,
  range?: ByteRange,
): Promise<RefBlock> {
  const { start, end } = resolveRange({ ...range, forceMisalign: true }, reader.size, SCAN_STEP);
  let firstData: ScannedBlock | null = null;
  for await (const b of scanBlocks(reader, start - (start % SCAN_STEP), end)) {
    const isMeta = b.header.seq === 0;
    if (isMeta || choice === 'any') return toRef(b);
    if (!firstData && choice === 'prefer-meta') firstData = b;
  }
  if (firstData) return toRef(firstData);
  throw new WorkflowError('Failed to find reference block');
}

function toRef(b: ScannedBlock): RefBlock {
  return {
    pos: b.pos,
    header: b.header,
    bytes: b.bytes,
    meta: b.header.seq === 0 ? parseMetadataPayload(b.bytes.subarray(HEADER_SIZE)) : null,
  };
}

/** blkar's "type" of a reference block for refBlockInfo. */
export function refBlockType(ref: RefBlock): 'metadata' | 'data' {
  return ref.header.seq === 0 ? 'metadata' : 'data';
}

/** D and P of an EC reference block; blkar refuses an EC metadata block without RSD/RSP (7.1.1, #210). */
export function rsParamsOf(ref: RefBlock, mode: string): { d: number; p: number } {
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
 * blkar's burst level guess (sbx-format.md §7.6): read up to (1 + P) + 1000 + 1 blocks from `from`
 * (block-aligned), note each valid block's seq (same version and UID), and pick the smallest level in
 * 0 … 1000 with the fewest mismatches against the layout; null when every level ties.
 */
export async function guessBurstLevel(reader: RandomReader, ref: RefBlock, d: number, p: number, from = 0): Promise<number | null> {
  const version = ref.header.version;
  const bs = blockSizeOf(version);
  const start = from - (from % bs);
  const count = 1 + p + MAX_GUESSABLE_BURST + 1;
  const data = await reader.read(start, count * bs);
  const seqs: (number | null)[] = [];
  for (let off = 0; off + bs <= data.length; off += bs) {
    seqs.push(isValidBlock(data, { version, uid: ref.header.uid }, off) ? (parseHeader(data, off) as BlockHeader).seq : null);
  }
  const startIndex = start / bs;
  let best: number | null = null;
  let bestMismatch = Infinity;
  let allTie = true;
  let firstMismatch: number | null = null;
  for (let level = 0; level <= MAX_GUESSABLE_BURST; level++) {
    const layout = new Layout({ version, d, p, burst: level });
    let mismatches = 0;
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i];
      if (s !== null && layout.indexToSeq(startIndex + i) !== s) mismatches++;
    }
    if (firstMismatch === null) firstMismatch = mismatches;
    else if (mismatches !== firstMismatch) allTie = false;
    if (mismatches < bestMismatch) {
      bestMismatch = mismatches;
      best = level;
    }
  }
  return allTie ? null : best;
}

/** The burst level to use: the user's, or the guess; WorkflowError when it cannot be guessed. */
export async function burstOrGuess(reader: RandomReader, ref: RefBlock, d: number, p: number, burst: number | undefined, from = 0): Promise<number> {
  if (burst !== undefined) return burst;
  const g = await guessBurstLevel(reader, ref, d, p, from);
  if (g === null) throw new WorkflowError('Failed to guess burst resistance level, please specify via --burst option');
  return g;
}

/** Layout of the container a reference block belongs to (burst needed for EC versions). */
export function layoutOf(ref: RefBlock, rs: { d: number; p: number } | null, burst: number): Layout {
  const version: SbxVersion = ref.header.version;
  return new Layout({ version, d: rs?.d, p: rs?.p, burst, metaEnabled: ref.header.seq === 0 });
}

/** Reads the block at `pos` (short at end of file). */
export function readBlock(reader: RandomReader, pos: number, blockSize: number): Promise<Buffer> {
  return reader.read(pos, blockSize);
}

/** True iff `buf` holds a whole valid block with the reference block's version and UID (and `seq` if given). */
export function isSameContainerBlock(buf: Uint8Array, ref: RefBlock, seq?: number, offset = 0): boolean {
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
  ref: RefBlock,
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
