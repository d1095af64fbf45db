/**
 * `decode` workflow (blkar decode_core, sbx-format.md §5): rebuild the original file from a container.
 *
 * To a file: every block-aligned block of the range is read in container order; each valid data block (same
 * version and UID as the reference block) is written at chunkIndex × dataSize, so order does not matter and
 * the last valid copy of a seq wins; the output is then cut to FSZ and its hash compared with HSH.
 * To a stream (stdout): chunks go out in sequence order, a missing or invalid block becomes a chunk of zeros,
 * and the last chunk is cut so the output is exactly FSZ bytes.
 */
import { promises as fsp } from 'fs';
import * as path from 'path';
import { uidToHex } from './header';
import { Layout } from './layout';
import { createHasher, formatMultihash, Hasher, isSupportedHashType, Multihash } from './multihash';
import { FileReader, RandomReader } from './reader';
import { HEADER_SIZE, isEcVersion } from './specs';
import {
  burstOrGuess,
  ByteRange,
  checkRecordedSize,
  findReferenceBlock,
  guessBurstLevel,
  InputError,
  isSameContainerBlock,
  layoutOf,
  Progress,
  RefBlock,
  RefBlockInfo,
  refBlockType,
  resolveRange,
  rsParamsOf,
  secondsSince,
  WorkflowError,
} from './workflow-common';

export interface DecodeParams {
  /** Container path. */
  input: string;
  /**
   * Output: a path, a directory (→ DIR/<recorded file name>), '-' for `stdout`, or undefined for the recorded
   * file name in the current directory.
   */
  output?: string;
  /** Stream used when output is '-'. */
  stdout?: NodeJS.WritableStream;
  /** Overwrite an existing output file. */
  force?: boolean;
  /** Accept any valid block as reference block (containers without metadata). */
  noMeta?: boolean;
  range?: ByteRange;
  refRange?: ByteRange;
  guessBurstFrom?: number;
  burst?: number;
  onProgress?: Progress;
}

export type { RefBlockInfo } from './workflow-common';

export interface DecodeStats {
  ref: RefBlockInfo;
  /** EC versions: the burst level used (given or guessed); null for 1–3 or when it could not be guessed. */
  burst: number | null;
  uid: string;
  version: number;
  blockSize: number;
  blocksProcessed: number;
  metaBlocksDecoded: number;
  dataBlocksDecoded: number;
  parityBlocksDecoded: number;
  blocksFailed: number;
  /** Size of the decoded output. */
  fileSize: number;
  containerSize: number;
  /** Where the output went (null for a stream). */
  outputPath: string | null;
  recordedHash: string | null;
  outputHash: string | null;
  /** null when there is no recorded hash to compare with. */
  hashMatches: boolean | null;
  decodeSeconds: number;
  hashSeconds: number;
  totalSeconds: number;
  /** Human notices (e.g. no recorded size: padding left in place). */
  warnings: string[];
}

/** Decodes a container; see the module comment. Throws InputError / WorkflowError with user-facing messages. */
export async function decodeContainer(params: DecodeParams): Promise<DecodeStats> {
  const t0 = Date.now();
  const reader = await FileReader.open(params.input);
  try {
    return await decodeFrom(reader, params, t0);
  } finally {
    await reader.close();
  }
}

async function decodeFrom(reader: RandomReader, params: DecodeParams, t0: number): Promise<DecodeStats> {
  const refRange: ByteRange = { from: params.refRange?.from ?? params.range?.from, ...stripUndefined(params.refRange) };
  const ref = await findReferenceBlock(reader, params.noMeta ? 'any' : 'prefer-meta', refRange);
  const version = ref.header.version;
  const warnings: string[] = [];

  let rs: { d: number; p: number } | null = null;
  let burst: number | null = null;
  const toStream = params.output === '-';
  if (isEcVersion(version)) {
    rs = rsParamsOf(ref, 'decoding');
    const from = params.guessBurstFrom ?? params.range?.from ?? 0;
    if (toStream) burst = await burstOrGuess(reader, ref, rs.d, rs.p, params.burst, from);
    else {
      // File mode does not need the burst level; blkar still insists on guessing it, we only report it.
      burst = params.burst ?? (await guessBurstLevel(reader, ref, rs.d, rs.p, from));
      if (burst === null) warnings.push('Failed to guess burst resistance level; decoding without it');
    }
  }
  const layout = layoutOf(ref, rs, burst ?? 0);
  const fsz = ref.meta?.fsz;
  if (fsz !== undefined) checkRecordedSize(layout, fsz);

  const stats: DecodeStats = {
    ref: { type: refBlockType(ref), version, pos: ref.pos },
    burst,
    uid: uidToHex(ref.header.uid),
    version,
    blockSize: layout.blockSize,
    blocksProcessed: 0,
    metaBlocksDecoded: 0,
    dataBlocksDecoded: 0,
    parityBlocksDecoded: 0,
    blocksFailed: 0,
    fileSize: 0,
    containerSize: reader.size,
    outputPath: null,
    recordedHash: ref.meta?.hsh ? formatMultihash(ref.meta.hsh) : null,
    outputHash: null,
    hashMatches: null,
    decodeSeconds: 0,
    hashSeconds: 0,
    totalSeconds: 0,
    warnings,
  };

  if (toStream) {
    if (!params.stdout) throw new WorkflowError('No output stream given for "-"');
    await decodeToStream(reader, ref, layout, params, stats, params.stdout);
  } else {
    await decodeToFile(reader, ref, layout, params, stats);
  }
  stats.totalSeconds = secondsSince(t0);
  return stats;
}

function stripUndefined(r: ByteRange | undefined): ByteRange {
  const out: ByteRange = {};
  if (!r) return out;
  for (const [k, v] of Object.entries(r)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

/** The output path blkar would use (recorded FNM reduced to its file-name part, never its directories). */
export function resolveOutputPath(output: string | undefined, ref: RefBlock): string {
  const recorded = ref.meta?.fnm !== undefined ? path.basename(ref.meta.fnm.replace(/\\/g, '/')) : undefined;
  const usable = recorded !== undefined && recorded !== '' && recorded !== '.' && recorded !== '..' ? recorded : undefined;
  const noName = () =>
    new InputError('No original file name was found in SBX container and no output file name/path was provided');
  if (output === undefined) {
    if (!usable) throw noName();
    return usable;
  }
  let isDir = false;
  try {
    isDir = require('fs').statSync(output).isDirectory();
  } catch {
    isDir = false;
  }
  if (isDir) {
    if (!usable) throw noName();
    return path.join(output, usable);
  }
  return output;
}

/** Groups adjacent writes into large ones (a payload is only 112–4080 bytes). */
class CoalescingWriter {
  private parts: Buffer[] = [];
  private start = 0;
  private length = 0;
  constructor(private readonly handle: fsp.FileHandle) {}
  async write(data: Buffer, pos: number): Promise<void> {
    if (this.length > 0 && (pos !== this.start + this.length || this.length >= 1 << 20)) await this.flush();
    if (this.length === 0) this.start = pos;
    this.parts.push(data);
    this.length += data.length;
  }
  async flush(): Promise<void> {
    if (this.length === 0) return;
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.handle.write(buf, done, buf.length - done, this.start + done);
      done += bytesWritten;
    }
    this.parts = [];
    this.length = 0;
  }
}

async function decodeToFile(
  reader: RandomReader,
  ref: RefBlock,
  layout: Layout,
  params: DecodeParams,
  stats: DecodeStats,
): Promise<void> {
  const outPath = resolveOutputPath(params.output, ref);
  stats.outputPath = outPath;
  if (!params.force && (await exists(outPath))) throw new InputError(`File "${outPath}" already exists`);
  const t0 = Date.now();
  const fsz = ref.meta?.fsz;
  // Chunks at or past FSZ would be cut away again: never write them (a forged seq must not create a huge file).
  const chunkLimit = fsz !== undefined ? layout.chunkCount(fsz) : Infinity;
  const bs = layout.blockSize;
  const ds = layout.dataSize;
  const { start, end } = resolveRange(params.range, reader.size, bs);
  const handle = await fsp.open(outPath, 'w+');
  try {
    const writer = new CoalescingWriter(handle);
    const STEP = bs * Math.max(1, Math.floor((1 << 20) / bs));
    for (let chunkPos = start; chunkPos < end; chunkPos += STEP) {
      const buf = await reader.read(chunkPos, Math.min(STEP, end - chunkPos));
      for (let off = 0; off < buf.length; off += bs) {
        stats.blocksProcessed++;
        if (off + bs > buf.length || !isSameContainerBlock(buf, ref, undefined, off)) {
          stats.blocksFailed++;
          continue;
        }
        const seq = buf.readUInt32BE(off + 12);
        if (seq === 0) {
          stats.metaBlocksDecoded++;
          continue;
        }
        if (layout.isParitySeq(seq)) {
          stats.parityBlocksDecoded++;
          continue;
        }
        stats.dataBlocksDecoded++;
        const chunk = layout.chunkIndexOfSeq(seq) as number;
        if (chunk < chunkLimit) await writer.write(buf.subarray(off + HEADER_SIZE, off + bs), chunk * ds);
      }
      params.onProgress?.(chunkPos + buf.length - start, end - start);
    }
    await writer.flush();
    if (fsz !== undefined && ref.meta !== null) {
      await handle.truncate(fsz);
    } else {
      stats.warnings.push('No recorded file size found: the output keeps the padding of the last block');
    }
    await handle.sync();
    stats.fileSize = (await handle.stat()).size;
    stats.decodeSeconds = secondsSince(t0);
    const h = ref.meta?.hsh;
    if (h && isSupportedHashType(h.type)) {
      const th = Date.now();
      const hasher = createHasher(h.type);
      const out = FileReader.fromHandle(handle, stats.fileSize);
      for (let p = 0; p < stats.fileSize; p += 1 << 22) hasher.update(await out.read(p, Math.min(1 << 22, stats.fileSize - p)));
      finishHash(stats, h, hasher);
      stats.hashSeconds = secondsSince(th);
    }
  } finally {
    await handle.close();
  }
}

function finishHash(stats: DecodeStats, recorded: Multihash, hasher: Hasher): void {
  const digest = hasher.digest();
  stats.outputHash = formatMultihash({ type: hasher.type, digest });
  stats.hashMatches = digest.equals(recorded.digest);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes to a stream honouring back-pressure; rejects on stream errors (e.g. EPIPE). */
function writeStream(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = stream.write(data, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else stream.once('drain', resolve);
  });
}

async function decodeToStream(
  reader: RandomReader,
  ref: RefBlock,
  layout: Layout,
  params: DecodeParams,
  stats: DecodeStats,
  out: NodeJS.WritableStream,
): Promise<void> {
  const t0 = Date.now();
  const fsz = ref.meta?.fsz;
  const bs = layout.blockSize;
  const ds = layout.dataSize;
  const h = ref.meta?.hsh;
  const hasher = h && isSupportedHashType(h.type) ? createHasher(h.type) : null;
  const zero = Buffer.alloc(ds);
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let emitted = 0;
  const emit = async (data: Buffer) => {
    hasher?.update(data);
    emitted += data.length;
    pending.push(Buffer.from(data));
    pendingLen += data.length;
    if (pendingLen >= 1 << 20) await flush();
  };
  const flush = async () => {
    if (pendingLen === 0) return;
    const all = Buffer.concat(pending, pendingLen);
    pending = [];
    pendingLen = 0;
    await writeStream(out, all);
  };
  const chunkTotal = fsz !== undefined ? layout.chunkCount(fsz) : Infinity;
  const lastChunkLen = fsz !== undefined && fsz % ds !== 0 ? fsz % ds : ds;
  const hasRange = params.range?.from !== undefined || params.range?.toInclusive !== undefined || params.range?.toExclusive !== undefined;

  if (layout.ec && !hasRange && fsz !== undefined) {
    // Read pattern 1: follow the layout seq by seq (metadata copies only counted).
    for (const idx of layout.metadataIndices()) {
      stats.blocksProcessed++;
      const b = await reader.read(idx * bs, bs);
      if (isSameContainerBlock(b, ref, 0)) stats.metaBlocksDecoded++;
      else stats.blocksFailed++;
    }
    const lastSeq = layout.lastSeq(fsz);
    for (let seq = 1; seq <= lastSeq; seq++) {
      stats.blocksProcessed++;
      const b = await reader.read(layout.seqToIndex(seq) * bs, bs);
      const valid = isSameContainerBlock(b, ref, seq);
      if (!valid) stats.blocksFailed++;
      if (layout.isParitySeq(seq)) {
        if (valid) stats.parityBlocksDecoded++;
        continue;
      }
      if (valid) stats.dataBlocksDecoded++;
      const chunk = layout.chunkIndexOfSeq(seq) as number;
      if (chunk >= chunkTotal) continue;
      const payload = valid ? b.subarray(HEADER_SIZE, bs) : zero;
      await emit(chunk === chunkTotal - 1 ? payload.subarray(0, lastChunkLen) : payload);
      if (seq % 64 === 0) params.onProgress?.(seq, lastSeq);
    }
    params.onProgress?.(lastSeq, lastSeq);
  } else {
    // Read patterns 2 and 3: blocks in container order from the range start, each checked against the seq
    // the layout expects at its position (starting index guessed from the blocks themselves).
    const { start, end } = resolveRange(params.range, reader.size, bs);
    const startIndex = await guessStartIndex(reader, ref, layout, start, end);
    let chunksOut = 0;
    for (let pos = start, j = 0; pos < end && chunksOut < chunkTotal; pos += bs, j++) {
      stats.blocksProcessed++;
      const b = await reader.read(pos, bs);
      const seq = layout.indexToSeq(startIndex + j);
      const valid = isSameContainerBlock(b, ref, seq);
      if (!valid) stats.blocksFailed++;
      if (seq === 0) {
        if (valid) stats.metaBlocksDecoded++;
        continue;
      }
      if (layout.isParitySeq(seq)) {
        if (valid) stats.parityBlocksDecoded++;
        continue;
      }
      if (valid) stats.dataBlocksDecoded++;
      const chunk = layout.chunkIndexOfSeq(seq) as number;
      const payload = valid ? b.subarray(HEADER_SIZE, bs) : zero;
      await emit(chunk === chunkTotal - 1 ? payload.subarray(0, lastChunkLen) : payload);
      chunksOut++;
      if (j % 64 === 0) params.onProgress?.(pos + bs - start, end - start);
    }
    params.onProgress?.(end - start, end - start);
  }
  await flush();
  stats.fileSize = emitted;
  stats.decodeSeconds = secondsSince(t0);
  if (h && hasher) finishHash(stats, h, hasher);
}

/**
 * blkar's "guessing starting block index": over up to 1024 blocks from `start`, each valid data block votes
 * for (its canonical index − blocks read so far); the most common vote wins (default: start's own index).
 */
async function guessStartIndex(reader: RandomReader, ref: RefBlock, layout: Layout, start: number, end: number): Promise<number> {
  const bs = layout.blockSize;
  const votes = new Map<number, number>();
  const buf = await reader.read(start, Math.min(1024 * bs, end - start));
  for (let off = 0, j = 0; off + bs <= buf.length; off += bs, j++) {
    if (!isSameContainerBlock(buf, ref, undefined, off)) continue;
    const seq = buf.readUInt32BE(off + 12);
    if (seq === 0) continue;
    let idx: number;
    try {
      idx = layout.seqToIndex(seq);
    } catch {
      continue;
    }
    if (idx < j) continue;
    votes.set(idx - j, (votes.get(idx - j) ?? 0) + 1);
  }
  let best = Math.floor(start / bs);
  let bestCount = 0;
  for (const [idx, n] of votes) {
    if (n > bestCount) {
      best = idx;
      bestCount = n;
    }
  }
  return best;
}
