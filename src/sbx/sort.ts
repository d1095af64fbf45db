/**
 * `sort` workflow (blkar sort_core): copy every valid block of a container to its canonical position in a new
 * file. The first metadata block goes to every metadata position; for each seq the last valid copy wins; gaps
 * left by missing blocks stay holes. The burst level of the output is `burst` or the input's guessed level.
 */
import { promises as fsp } from 'fs';
import { isBlankBlock } from './header';
import { FileReader, RandomReader } from './reader';
import { isEcVersion } from './specs';
import {
  burstOrGuess,
  ByteRange,
  findReferenceBlock,
  InputError,
  isSameContainerBlock,
  layoutOf,
  Progress,
  refBlockType,
  resolveRange,
  rsParamsOf,
  secondsSince,
  writeAt,
  RefBlockInfo,
} from './workflow-common';

export interface SortParams {
  input: string;
  /** Output path (the CLI defaults it to INFILE.sorted). */
  output: string;
  force?: boolean;
  dryRun?: boolean;
  /** Burst level of the output; default: the input's (guessed). */
  burst?: number;
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

export async function sortContainer(params: SortParams): Promise<SortStats> {
  const t0 = Date.now();
  const reader = await FileReader.open(params.input);
  let out: fsp.FileHandle | null = null;
  try {
    const ref = await findReferenceBlock(reader, 'prefer-meta', params.refRange ?? { from: params.range?.from });
    const version = ref.header.version;
    let rs: { d: number; p: number } | null = null;
    let burst: number | null = null;
    if (isEcVersion(version)) {
      rs = rsParamsOf(ref, 'sorting');
      burst = await burstOrGuess(reader, ref, rs.d, rs.p, params.burst, params.range?.from ?? 0);
    }
    const layout = layoutOf(ref, rs, burst ?? 0);
    const bs = layout.blockSize;
    const stats: SortStats = {
      ref: { type: refBlockType(ref), version, pos: ref.pos },
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
    if (!params.dryRun) {
      if (!params.force && (await exists(params.output))) throw new InputError(`File "${params.output}" already exists`);
      out = await fsp.open(params.output, 'w');
    }
    await sortBlocks(reader, ref, layout, params, stats, out);
    if (out) await out.sync();
    stats.totalSeconds = secondsSince(t0);
    return stats;
  } finally {
    await reader.close();
    if (out) await out.close();
  }
}

async function sortBlocks(
  reader: RandomReader,
  ref: Awaited<ReturnType<typeof findReferenceBlock>>,
  layout: ReturnType<typeof layoutOf>,
  params: SortParams,
  stats: SortStats,
  out: fsp.FileHandle | null,
): Promise<void> {
  const bs = layout.blockSize;
  const { start, end } = resolveRange(params.range, reader.size, bs);
  const metaPositions = layout.metadataIndices().map((i) => i * bs);
  let firstMeta: Buffer | null = ref.header.seq === 0 ? ref.bytes : null;
  let metaWritten = false;
  const STEP = bs * Math.max(1, Math.floor((1 << 20) / bs));
  for (let chunkPos = start; chunkPos < end; chunkPos += STEP) {
    const buf = await reader.read(chunkPos, Math.min(STEP, end - chunkPos));
    for (let off = 0; off < buf.length; off += bs) {
      stats.blocksProcessed++;
      const inPos = chunkPos + off - start;
      if (off + bs > buf.length || !isSameContainerBlock(buf, ref, undefined, off)) {
        if (!isBlankBlock(buf, off, Math.min(bs, buf.length - off)) || params.reportBlank) stats.blocksFailed++;
        continue;
      }
      const block = buf.subarray(off, off + bs);
      const seq = block.readUInt32BE(12);
      if (seq === 0) {
        firstMeta ??= Buffer.from(block);
        stats.metaSorted++;
        if (metaPositions.includes(inPos)) stats.metaSameOrder++;
        else stats.metaDiffOrder++;
        if (out && !metaWritten) {
          for (const p of metaPositions) await writeAt(out, firstMeta, p);
          metaWritten = true;
        }
        continue;
      }
      let outPos: number;
      try {
        outPos = layout.seqToIndex(seq) * bs;
      } catch {
        stats.blocksFailed++;
        continue;
      }
      const parity = layout.isParitySeq(seq);
      if (parity) {
        stats.paritySorted++;
        if (outPos === inPos) stats.paritySameOrder++;
        else stats.parityDiffOrder++;
      } else {
        stats.dataSorted++;
        if (outPos === inPos) stats.dataSameOrder++;
        else stats.dataDiffOrder++;
      }
      if (out) await writeAt(out, block, outPos);
    }
    params.onProgress?.(chunkPos + buf.length - start, end - start);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
