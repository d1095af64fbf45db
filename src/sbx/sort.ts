/**
 * `sort` workflow (blkar sort_core): copy every valid block of a container to its canonical position in a new
 * file. The first metadata block goes to every metadata position; for each seq the last valid copy wins; gaps
 * left by missing blocks stay holes. The burst level of the output is `burst` or the input's guessed level.
 */
import { promises as fsp } from 'fs';
import { isBlankBlock } from './format/header';
import { Layout } from './format/layout';
import { ReferenceBlock } from './format/scan';
import { RandomReader } from './reader';
import { Progress, forEachBlock, secondsSince } from './block-pass';
import { BytePosition, ByteRange, refSearchRange, resolveByteRange } from './byte-range';
import { burstGuessStart, containerLayout } from './container-layout';
import { MultiPass, pathExists, syncStored, withFileReader, writeFully, writeOutput } from './file-io';
import { RefBlockInfo, isSameContainerBlock, refBlockInfo, requireReferenceBlock } from './reference-block';
import { InputError } from './workflow-errors';

export interface SortParams {
  input: string;
  /** Output path (the CLI defaults it to INFILE.sorted). */
  output: string;
  force?: boolean;
  /**
   * blkar's `--multi-pass` ('skip-good') / `--multi-pass-no-skip` ('overwrite-all'): sort into an existing output
   * without truncating it. 'skip-good' leaves every position that already holds the right valid block.
   */
  multiPass?: MultiPass;
  dryRun?: boolean;
  /** Burst level of the output; default: the input's (guessed). */
  burst?: number;
  /** blkar's --guess-burst-from: where burst guessing starts. */
  guessBurstFrom?: BytePosition;
  reportBlank?: boolean;
  range?: ByteRange;
  refRange?: ByteRange;
  onProgress?: Progress;
}

export interface SortStats {
  ref: RefBlockInfo;
  burst: number | null;
  version: number;
  blockSize: number;
  blocksProcessed: number;
  metaSorted: number;
  dataSorted: number;
  paritySorted: number;
  metaSameOrder: number;
  metaDiffOrder: number;
  dataSameOrder: number;
  dataDiffOrder: number;
  paritySameOrder: number;
  parityDiffOrder: number;
  blocksFailed: number;
  totalSeconds: number;
}

export function sortContainer(params: SortParams): Promise<SortStats> {
  const t0 = Date.now();
  return withFileReader(params.input, async (reader) => {
    const ref = await requireReferenceBlock(reader, 'prefer-meta', refSearchRange(params.refRange, params.range));
    const version = ref.header.version;
    const { burst, layout } = await containerLayout(reader, ref, 'sort', {
      burst: params.burst,
      guessFrom: burstGuessStart(ref.bytes.length, params.guessBurstFrom, params.range),
    });
    const bs = layout.blockSize;
    const stats: SortStats = {
      ref: refBlockInfo(ref),
      burst,
      version,
      blockSize: bs,
      blocksProcessed: 0,
      metaSorted: 0,
      dataSorted: 0,
      paritySorted: 0,
      metaSameOrder: 0,
      metaDiffOrder: 0,
      dataSameOrder: 0,
      dataDiffOrder: 0,
      paritySameOrder: 0,
      parityDiffOrder: 0,
      blocksFailed: 0,
      totalSeconds: 0,
    };
    if (params.dryRun) {
      await sortBlocks(reader, ref, layout, params, stats, null);
    } else {
      if (!params.force && !params.multiPass && (await pathExists(params.output))) throw new InputError(`File "${params.output}" already exists`);
      await writeOutput(params.output, params.multiPass, 'w', async (out) => {
        await sortBlocks(reader, ref, layout, params, stats, out);
        await syncStored(out);
      });
    }
    stats.totalSeconds = secondsSince(t0);
    return stats;
  });
}

/** blkar's multi-pass skip rule for sort: true iff the output already holds a valid block of `ref`'s container with this seq at `pos`. */
async function holdsBlock(out: fsp.FileHandle, pos: number, ref: ReferenceBlock, seq: number): Promise<boolean> {
  const existing = Buffer.alloc(ref.bytes.length);
  const { bytesRead } = await out.read(existing, 0, existing.length, pos);
  return bytesRead === existing.length && isSameContainerBlock(existing, ref, seq);
}

async function sortBlocks(
  reader: RandomReader,
  ref: ReferenceBlock,
  layout: Layout,
  params: SortParams,
  stats: SortStats,
  out: fsp.FileHandle | null,
): Promise<void> {
  const bs = layout.blockSize;
  const { start, end } = resolveByteRange(params.range, reader.size, bs);
  const metaPositions = layout.metadataIndices().map((i) => i * bs);
  // blkar compares a block's position with its canonical one in the whole container, less the misalignment
  // of the range start (--force-misalign); metadata copies are compared once, at the first metadata block.
  const readOffset = start % bs;
  // A block with a seq past the container the recorded size implies has no place in it: written at its seq's position
  // (as blkar does), a forged or corrupt seq made a sparse output of terabytes, or failed with EFBIG. It counts as failed.
  const fsz = ref.meta?.fsz;
  const lastSeq = fsz !== undefined && Number.isSafeInteger(fsz) ? layout.lastSeq(fsz) : Infinity;
  let metaWritten = false;
  const skipGood = params.multiPass === 'skip-good';
  const put = async (block: Buffer, pos: number, seq: number) => {
    if (!out || (skipGood && (await holdsBlock(out, pos, ref, seq)))) return;
    await writeFully(out, block, pos);
  };
  const onBlock = async (buf: Buffer, off: number, pos: number) => {
    stats.blocksProcessed++;
    const inPos = pos - readOffset;
    if (off + bs > buf.length || !isSameContainerBlock(buf, ref, undefined, off)) {
      if (!isBlankBlock(buf, off, Math.min(bs, buf.length - off)) || params.reportBlank) stats.blocksFailed++;
      return;
    }
    const block = buf.subarray(off, off + bs);
    const seq = block.readUInt32BE(12);
    if (seq === 0) {
      stats.metaSorted++;
      if (!metaWritten) {
        // blkar's check_meta_blocks_reader: each metadata position (shifted by the range start) either holds
        // exactly this block or not.
        const first = Buffer.from(block);
        for (const p of metaPositions) {
          const there = await reader.read(p + start, bs);
          if (there.length === bs && there.equals(first)) stats.metaSameOrder++;
          else stats.metaDiffOrder++;
        }
        for (const p of metaPositions) await put(first, p, 0);
        metaWritten = true;
      }
      return;
    }
    if (seq > lastSeq) {
      stats.blocksFailed++;
      return;
    }
    const outPos = layout.seqToIndex(seq) * bs;
    if (layout.isParitySeq(seq)) {
      stats.paritySorted++;
      if (outPos === inPos) stats.paritySameOrder++;
      else stats.parityDiffOrder++;
    } else {
      stats.dataSorted++;
      if (outPos === inPos) stats.dataSameOrder++;
      else stats.dataDiffOrder++;
    }
    await put(block, outPos, seq);
  };
  await forEachBlock(reader, start, end, bs, onBlock, params.onProgress);
}
