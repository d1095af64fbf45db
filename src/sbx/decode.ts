/**
 * `decode` workflow (blkar decode_core, sbx-format.md §5): rebuild the original file from a container.
 *
 * To a file: every block-aligned block of the range is read in container order; each valid data block (same
 * version and UID as the reference block) is written at chunkIndex × dataSize, so order does not matter and
 * the last valid copy of a seq wins; the output is then cut to FSZ (but not extended past the last chunk written
 * when FSZ is more than the container can hold) and its hash compared with HSH.
 * To a stream (stdout): chunks go out in sequence order, a missing or invalid block becomes a chunk of zeros,
 * and the last chunk is cut so the output is exactly FSZ bytes.
 */
import * as fs from 'fs';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { fileNamePart } from './format/file-name-part';
import { uidToHex } from './format/header';
import { Layout } from './format/layout';
import { createHasher, formatMultihash, Hasher, HashType, isSupportedHashType, Multihash } from './format/multihash';
import { FileReader, RandomReader } from './reader';
import { guessStartingBlockIndex, ReferenceBlock } from './format/scan';
import { HEADER_SIZE } from './format/specs';
import { Progress, forEachBlock, secondsSince } from './block-pass';
import { BytePosition, ByteRange, refSearchRange, resolveByteRange } from './byte-range';
import { burstGuessStart, checkRecordedSize, containerLayout } from './container-layout';
import { MultiPass, pathExists, syncStored, withFileReader, writeOutput } from './file-io';
import { WindowWriter } from './window-writer';
import { DecodedDataHasher } from './decoded-data-hash';
import { RefBlockInfo, isSameContainerBlock, refBlockInfo, requireReferenceBlock } from './reference-block';
import { InputError, WorkflowError } from './workflow-errors';

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
  /** Called with the output path once it is known (from OUT or the stored name), before anything is written. */
  checkOutput?: (outPath: string) => void;
  /**
   * blkar's `--multi-pass` ('skip-good') / `--multi-pass-no-skip` ('overwrite-all'): decode into an existing
   * output without truncating it first, so several damaged copies can fill it in turn. 'skip-good' writes a
   * chunk only where the output holds zeros or ends; 'overwrite-all' writes every valid chunk.
   */
  multiPass?: MultiPass;
  /** Accept any valid block as reference block (containers without metadata). */
  noMeta?: boolean;
  range?: ByteRange;
  refRange?: ByteRange;
  guessBurstFrom?: BytePosition;
  burst?: number;
  onProgress?: Progress;
  /**
   * Hashing of the output file, reported once it has taken a second: blocks far apart (a partly rescued container,
   * or a forged sequence number) make a large sparse output, and hashing it takes minutes with nothing said. A short
   * hash, the usual case, reports nothing (blkar's output stays).
   */
  onHashProgress?: Progress;
  /** Milliseconds of hashing before onHashProgress is called (default HASH_QUIET_MS). */
  hashQuietMs?: number;
}

export type { MultiPass } from './file-io';
export type { RefBlockInfo } from './reference-block';

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
  /** Decoding to a stream: the failed blocks by the kind of block expected at their position (blkar's breakdown). */
  blocksFailedByKind: { metadata: number; data: number; parity: number } | null;
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
export function decodeContainer(params: DecodeParams): Promise<DecodeStats> {
  const t0 = Date.now();
  return withFileReader(params.input, (reader) => decodeFrom(reader, params, t0));
}

async function decodeFrom(reader: RandomReader, params: DecodeParams, t0: number): Promise<DecodeStats> {
  const ref = await requireReferenceBlock(reader, params.noMeta ? 'any' : 'prefer-meta', refSearchRange(params.refRange, params.range));
  const version = ref.header.version;
  const warnings: string[] = [];
  const toStream = params.output === '-';
  // File mode does not need the burst level; blkar still insists on guessing it, we only report it.
  const { burst, layout } = await containerLayout(reader, ref, 'decode', {
    burst: params.burst,
    guessFrom: burstGuessStart(ref.bytes.length, params.guessBurstFrom, params.range),
    optionalBurst: !toStream,
  });
  if (layout.ec && burst === null) warnings.push('Failed to guess burst resistance level; decoding without it');
  checkRecordedSize(layout, ref);

  const stats: DecodeStats = {
    ref: refBlockInfo(ref),
    burst,
    uid: uidToHex(ref.header.uid),
    version,
    blockSize: layout.blockSize,
    blocksProcessed: 0,
    metaBlocksDecoded: 0,
    dataBlocksDecoded: 0,
    parityBlocksDecoded: 0,
    blocksFailed: 0,
    blocksFailedByKind: toStream ? { metadata: 0, data: 0, parity: 0 } : null,
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

/** The output path blkar would use (recorded FNM reduced to its file-name part, never its directories). */
export function resolveOutputPath(output: string | undefined, ref: ReferenceBlock): string {
  const usable = ref.meta?.fnm !== undefined ? fileNamePart(ref.meta.fnm) : undefined;
  if (output === undefined) {
    if (!usable) throw new InputError('No original file name was found in SBX container and no output file name/path was provided', true);
    return usable;
  }
  if (isDirectorySync(output)) {
    if (!usable) throw new InputError(`No original file name was found in SBX container and "${output}" is a directory`, true);
    return path.join(output, usable);
  }
  return output;
}

function isDirectorySync(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function decodeToFile(
  reader: RandomReader,
  ref: ReferenceBlock,
  layout: Layout,
  params: DecodeParams,
  stats: DecodeStats,
): Promise<void> {
  const outPath = resolveOutputPath(params.output, ref);
  stats.outputPath = outPath;
  params.checkOutput?.(outPath);
  if (!params.force && !params.multiPass && (await pathExists(outPath))) throw new InputError(`File "${outPath}" already exists`, true);
  const t0 = Date.now();
  const fsz = ref.meta?.fsz;
  // Chunks at or past FSZ would be cut away again: never write them (a forged seq must not create a huge file).
  const chunkLimit = fsz !== undefined ? layout.chunkCount(fsz) : Infinity;
  const bs = layout.blockSize;
  const ds = layout.dataSize;
  const { start, end } = resolveByteRange(params.range, reader.size, bs);
  const h = ref.meta?.hsh;
  await writeOutput(outPath, params.multiPass, 'w+', async (handle) => {
    const writer = new WindowWriter(handle, ds);
    const kind = await handle.stat();
    const regular = kind.isFile();
    // A file or a block device is hashed from what it holds after the run (blkar; a multi-pass output includes
    // earlier runs). Anything else (/dev/null, a tape) cannot be read back: hash the chunks as they are decoded.
    const readBack = regular || kind.isBlockDevice();
    const decodedHash = !readBack && h && isSupportedHashType(h.type) ? new DecodedDataHasher(createHasher(h.type), ds, fsz ?? Infinity) : null;
    const skipGood = params.multiPass === 'skip-good';
    await forEachBlock(
      reader,
      start,
      end,
      bs,
      async (buf, off) => {
        stats.blocksProcessed++;
        if (off + bs > buf.length || !isSameContainerBlock(buf, ref, undefined, off)) {
          stats.blocksFailed++;
          return;
        }
        const seq = buf.readUInt32BE(off + 12);
        if (seq === 0) {
          stats.metaBlocksDecoded++;
          return;
        }
        if (layout.isParitySeq(seq)) {
          stats.parityBlocksDecoded++;
          return;
        }
        stats.dataBlocksDecoded++;
        const chunk = layout.chunkIndexOfSeq(seq) as number;
        if (chunk >= chunkLimit) return;
        if (skipGood && !(await writer.isFree(chunk))) return;
        await writer.write(chunk, buf.subarray(off + HEADER_SIZE, off + bs));
        decodedHash?.add(chunk, buf.subarray(off + HEADER_SIZE, off + bs));
      },
      params.onProgress,
    ).catch(async (err: unknown) => {
      // A run that fails part-way keeps what it decoded (writeOutput keeps the file): the window's chunks too.
      await writer.flush().catch(() => undefined);
      throw err;
    });
    await writer.flush();
    // A device written in place keeps its size: the file is its first FSZ bytes (truncating it was EINVAL, exit 2).
    let size = fsz ?? writer.end;
    if (fsz === undefined || ref.meta === null) {
      stats.warnings.push('No recorded file size found: the output keeps the padding of the last block');
    } else if (fsz <= zeroFillLimit(reader.size, layout)) {
      if (regular) await handle.truncate(fsz);
    } else {
      // Far more than every block of the container could carry: a forged or corrupt FSZ. blkar zero-fills up to
      // FSZ (a sparse TiB it then hashes for hours); we cut what is past FSZ but never add zeros past what this and
      // any earlier pass wrote.
      size = Math.min(fsz, regular ? (await handle.stat()).size : writer.end);
      if (regular && size === fsz) await handle.truncate(fsz);
      if (size < fsz) {
        stats.warnings.push(
          `Recorded file size ${fsz} is far more than the container can hold (${reader.size} bytes: at most ` +
            `${dataCapacity(reader.size, layout)} bytes of data); the output ends after the last block decoded, at ` +
            `${size} bytes, not zero-filled up to it (metadata block at byte ${ref.pos} (0x${ref.pos.toString(16).toUpperCase()}))`,
        );
      }
    }
    await syncStored(handle);
    stats.fileSize = regular ? (await handle.stat()).size : size;
    stats.decodeSeconds = secondsSince(t0);
    if (h && isSupportedHashType(h.type)) {
      const th = Date.now();
      if (!decodedHash) finishHash(stats, h, await hashOutput(handle, stats.fileSize, outPath, h.type, params));
      else if (decodedHash.finish(stats.fileSize)) finishHash(stats, h, decodedHash.hasher);
      else {
        stats.warnings.push(
          `A data block came after its place in "${outPath}" was hashed (a second copy, or blocks far out of order): ` +
            'the hash of what was decoded is not known ' +
            '(decode to a file, or run "blkfs sbx check --hash")',
        );
      }
      stats.hashSeconds = secondsSince(th);
    }
  });
}

/** Reads the first `size` bytes of the output back and hashes them (blkar's check of the output file). */
async function hashOutput(handle: fsp.FileHandle, size: number, outPath: string, type: HashType, params: DecodeParams): Promise<Hasher> {
  const th = Date.now();
  const hasher = createHasher(type);
  const out = FileReader.fromHandle(handle, size, outPath);
  let reporting = false;
  for (let p = 0; p < size; p += 1 << 22) {
    hasher.update(await out.read(p, Math.min(1 << 22, size - p)));
    reporting ||= Date.now() - th >= (params.hashQuietMs ?? HASH_QUIET_MS);
    if (reporting) params.onHashProgress?.(Math.min(p + (1 << 22), size), size);
  }
  return hasher;
}

/** The most data a container of `containerSize` bytes can carry: every whole block of it a data block. */
function dataCapacity(containerSize: number, layout: Layout): number {
  return Math.floor(containerSize / layout.blockSize) * layout.dataSize;
}

/**
 * The largest FSZ zero-filled as blkar does: what the container can carry, plus as much again and at least 1 GiB
 * more. A truncated container (a cut copy, a partly rescued one) that kept half its blocks, or lost at most 1 GiB of
 * data, gets blkar's size; a size beyond that is taken for a forged or corrupt FSZ and not made of zeros.
 */
function zeroFillLimit(containerSize: number, layout: Layout): number {
  const capacity = dataCapacity(containerSize, layout);
  return capacity + Math.max(capacity, 1 << 30);
}

/** How long the output hash may run before it is reported (see DecodeParams.onHashProgress). */
export const HASH_QUIET_MS = 1000;

function finishHash(stats: DecodeStats, recorded: Multihash, hasher: Hasher): void {
  const digest = hasher.digest();
  stats.outputHash = formatMultihash({ type: hasher.type, digest });
  stats.hashMatches = digest.equals(recorded.digest);
}

function failedAs(stats: DecodeStats, kind: 'metadata' | 'data' | 'parity'): void {
  stats.blocksFailed++;
  if (stats.blocksFailedByKind) stats.blocksFailedByKind[kind]++;
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
  ref: ReferenceBlock,
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
    // Read pattern 1: follow the layout seq by seq (metadata copies only counted; blkar checks their version and
    // UID, not their seq, so any valid block of the container at a metadata position counts as decoded).
    for (const idx of layout.metadataIndices()) {
      stats.blocksProcessed++;
      const b = await reader.read(idx * bs, bs);
      if (isSameContainerBlock(b, ref)) stats.metaBlocksDecoded++;
      else failedAs(stats, 'metadata');
    }
    // blkar stops at the last data chunk: the last set's padding and parity blocks are neither read nor counted.
    const lastSeq = chunkTotal > 0 ? layout.seqOfChunk(chunkTotal - 1) : 0;
    for (let seq = 1; seq <= lastSeq; seq++) {
      stats.blocksProcessed++;
      const b = await reader.read(layout.seqToIndex(seq) * bs, bs);
      const valid = isSameContainerBlock(b, ref, seq);
      if (!valid) failedAs(stats, layout.isParitySeq(seq) ? 'parity' : 'data');
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
    const { start, end } = resolveByteRange(params.range, reader.size, bs);
    const startIndex = await guessStartingBlockIndex(reader, { version: ref.header.version, uid: ref.header.uid }, layout, start);
    let chunksOut = 0;
    for (let pos = start, j = 0; pos < end && chunksOut < chunkTotal; pos += bs, j++) {
      stats.blocksProcessed++;
      const b = await reader.read(pos, bs);
      const seq = layout.indexToSeq(startIndex + j);
      const valid = isSameContainerBlock(b, ref, seq);
      if (!valid) failedAs(stats, seq === 0 ? 'metadata' : layout.isParitySeq(seq) ? 'parity' : 'data');
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
