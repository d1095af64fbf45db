/**
 * `repair` workflow (blkar repair_core, sbx-format.md §7.7): in-place Reed-Solomon repair of an EC container.
 * Only the blocks that must change are written: metadata copies that are invalid (overwritten with the
 * reference metadata block) and blocks rebuilt by RS. A block set with more than P missing blocks is
 * reported and left untouched. Versions 1–3 carry no parity: nothing is done (the CLI prints a notice).
 */
import { writeHeader } from './format/header';
import { Layout } from './format/layout';
import { RandomReader } from './reader';
import { ReedSolomon } from './format/reed-solomon';
import { ReferenceBlock } from './format/scan';
import { HEADER_SIZE, isEcVersion, SCAN_STEP } from './format/specs';
import { Progress, secondsSince } from './block-pass';
import { checkRecordedSize, containerLayout } from './container-layout';
import { withFileReader } from './file-io';
import { InPlaceWriter, withInPlaceWriter } from './in-place-writer';
import { RefBlockInfo, isSameContainerBlock, refBlockInfo, requireReferenceBlock } from './reference-block';
import { InputError } from './workflow-errors';

export interface RepairParams {
  input: string;
  burst?: number;
  /** Count and report, write nothing. */
  dryRun?: boolean;
  onProgress?: Progress;
}

export interface BlockPos {
  seq: number;
  /** Byte position in the container. */
  pos: number;
}

/** One block set that had missing or invalid blocks. */
export interface SetRepair {
  success: boolean;
  firstSeq: number;
  lastSeq: number;
  /** The missing blocks (rebuilt when success). */
  blocks: BlockPos[];
}

export interface RepairStats {
  /** False for versions 1–3 (no RS): nothing was read or written. */
  applicable: boolean;
  version: number;
  ref: RefBlockInfo;
  burst: number | null;
  blockSize: number;
  blocksProcessed: number;
  metaBlocksPassed: number;
  dataBlocksPassed: number;
  blocksFailed: number;
  metaBlocksRepaired: number;
  dataBlocksRepaired: number;
  dataBlocksFailedToRepair: number;
  /** Byte positions of metadata copies rewritten. */
  metadataRepairs: number[];
  /** Byte positions of invalid metadata copies left alone: a shifted valid block of the container overlaps them. */
  metadataLeftAlone: number[];
  /** Block sets with missing blocks, repaired or not, in seq order (at most 100 000 listed). */
  setRepairs: SetRepair[];
  /** No recorded FSZ: total block count estimated from the container size (may overestimate). */
  estimatedFromContainerSize: boolean;
  totalSeconds: number;
}

const MAX_LISTED_SETS = 100000;

/** What a repair stopped by a signal did: each block is its own unit, so any number of them is a sound state. */
function whatWasRepaired(n: number): string {
  const written = n === 0 ? 'no repaired block was written' : `${n} repaired block${n === 1 ? ' was' : 's were'} written whole and synced`;
  return `${written}; the rest of the container was not repaired: run repair again to finish`;
}

export function repairContainer(params: RepairParams): Promise<RepairStats> {
  const t0 = Date.now();
  return withInPlaceWriter(params.input, !!params.dryRun, (writer) => repairWith(params, writer, t0), whatWasRepaired);
}

function repairWith(params: RepairParams, writer: InPlaceWriter | null, t0: number): Promise<RepairStats> {
  return withFileReader(params.input, async (reader) => {
    const ref = await requireReferenceBlock(reader, 'must-be-meta');
    const version = ref.header.version;
    const stats: RepairStats = {
      applicable: isEcVersion(version),
      version,
      ref: refBlockInfo(ref),
      burst: null,
      blockSize: ref.bytes.length,
      blocksProcessed: 0,
      metaBlocksPassed: 0,
      dataBlocksPassed: 0,
      blocksFailed: 0,
      metaBlocksRepaired: 0,
      dataBlocksRepaired: 0,
      dataBlocksFailedToRepair: 0,
      metadataRepairs: [],
      metadataLeftAlone: [],
      setRepairs: [],
      estimatedFromContainerSize: false,
      totalSeconds: 0,
    };
    if (!stats.applicable) {
      stats.totalSeconds = secondsSince(t0);
      return stats;
    }
    requireAlignedContainer(ref);
    const { burst, layout } = await containerLayout(reader, ref, 'repair', { burst: params.burst });
    stats.burst = burst;
    const bs = layout.blockSize;
    const t = layout.setSize;
    let totalBlocks: number;
    const fsz = ref.meta?.fsz;
    if (fsz !== undefined) {
      checkRecordedSize(layout, ref);
      totalBlocks = layout.metaCount + layout.setCount(fsz) * t;
    } else {
      stats.estimatedFromContainerSize = true;
      totalBlocks = Math.floor(reader.size / bs);
    }
    await repairSets(reader, ref, layout, totalBlocks, stats, writer, params.onProgress);
    stats.blocksProcessed = stats.metaBlocksPassed + stats.dataBlocksPassed + stats.blocksFailed;
    stats.totalSeconds = secondsSince(t0);
    return stats;
  });
}

/**
 * Repair counts block positions from byte 0, as blkar does; a container found at another offset (cut out of an
 * image at the wrong place) would get its metadata copies and rebuilt blocks written across its real blocks.
 */
function requireAlignedContainer(ref: ReferenceBlock): void {
  const bs = ref.bytes.length;
  const shift = ref.pos % bs;
  if (shift === 0) return;
  throw new InputError(
    `The container's blocks are not aligned to its block size (${bs}) from byte 0: its reference metadata block is at ` +
      `byte ${ref.pos} (0x${ref.pos.toString(16).toUpperCase()}), ${shift} bytes past a block boundary. Repair cannot ` +
      `work on it and wrote nothing; make an aligned copy with \`blkfs sbx sort --from ${shift} --force-misalign SBX COPY\` ` +
      `and repair the copy`,
    true,
  );
}

/**
 * True iff a valid block of the container starts within `bs` bytes of `pos` but not at it: writing a block at
 * `pos` would cut into it (a shifted stretch of the container, which decode can still use).
 */
async function overlapsShiftedBlock(reader: RandomReader, ref: ReferenceBlock, pos: number, bs: number): Promise<boolean> {
  const start = Math.max(0, pos - bs + SCAN_STEP);
  const buf = await reader.read(start, pos + 2 * bs - SCAN_STEP - start);
  for (let at = start; at < pos + bs; at += SCAN_STEP) {
    if (at !== pos && isSameContainerBlock(buf, ref, undefined, at - start)) return true;
  }
  return false;
}

/** Steps 3 and 4 of §7.7: metadata copies, then every block set in seq order; writes through `writer` unless null. */
async function repairSets(
  reader: RandomReader,
  ref: ReferenceBlock,
  layout: Layout,
  totalBlocks: number,
  stats: RepairStats,
  writer: InPlaceWriter | null,
  onProgress?: Progress,
): Promise<void> {
  const bs = layout.blockSize;
  const t = layout.setSize;
  const version = layout.version;

  for (const idx of layout.metadataIndices()) {
    const pos = idx * bs;
    const b = await reader.read(pos, bs);
    // blkar's rule: any valid block of the container is left alone (a data block here means the layout, e.g. a
    // wrong --burst, is off: overwriting it would destroy data).
    if (isSameContainerBlock(b, ref)) {
      stats.metaBlocksPassed++;
      continue;
    }
    stats.blocksFailed++;
    if (await overlapsShiftedBlock(reader, ref, pos, bs)) {
      stats.metadataLeftAlone.push(pos);
      continue;
    }
    stats.metaBlocksRepaired++;
    stats.metadataRepairs.push(pos);
    await writer?.writeUnit([{ pos, block: ref.bytes }]);
  }
  const codec = new ReedSolomon(layout.d, layout.p);
  const shards: (Uint8Array | null)[] = new Array(t).fill(null);
  const processed = () => stats.metaBlocksPassed + stats.dataBlocksPassed + stats.blocksFailed;
  for (let first = 1; processed() < totalBlocks; first += t) {
    const positions: number[] = [];
    for (let i = 0; i < t; i++) positions.push(layout.seqToIndex(first + i) * bs);
    // A whole set past the end of the file has nothing to read or repair: count the rest as failed at once
    // (a forged or truncated container must not make us walk billions of absent sets).
    // blkar counts block by block up to totalBlocks: a last set cut short (a total estimated from the container
    // size) is counted but never complete, so it is neither repaired nor reported.
    const rest = totalBlocks - processed();
    const wholeSetBlocks = rest - (rest % t);
    if (positions.every((p) => p >= reader.size)) {
      stats.blocksFailed += rest;
      stats.dataBlocksFailedToRepair += wholeSetBlocks;
      if (wholeSetBlocks > 0 && stats.setRepairs.length < MAX_LISTED_SETS) {
        stats.setRepairs.push({ success: false, firstSeq: first, lastSeq: first + wholeSetBlocks - 1, blocks: [] });
      }
      break;
    }
    let missing = 0;
    // Positions holding a valid block of the container with another seq: the layout is off there (a wrong
    // --burst); a rebuilt block is never written over such a block, which is data too.
    const occupied = new Set<number>();
    for (let i = 0; i < Math.min(t, rest); i++) {
      const b = await reader.read(positions[i], bs);
      if (isSameContainerBlock(b, ref, first + i)) {
        shards[i] = b.subarray(HEADER_SIZE, bs);
        stats.dataBlocksPassed++;
      } else {
        if (isSameContainerBlock(b, ref)) occupied.add(i);
        shards[i] = null;
        missing++;
        stats.blocksFailed++;
      }
    }
    if (rest < t) break;
    if (missing > 0) {
      const missingIdx: number[] = [];
      for (let i = 0; i < t; i++) if (!shards[i]) missingIdx.push(i);
      let success = codec.reconstruct(shards) && occupied.size === 0;
      for (const i of missingIdx) if (success && (await overlapsShiftedBlock(reader, ref, positions[i], bs))) success = false;
      const report: SetRepair = {
        success,
        firstSeq: first,
        lastSeq: first + t - 1,
        blocks: missingIdx.map((i) => ({ seq: first + i, pos: positions[i] })),
      };
      if (stats.setRepairs.length < MAX_LISTED_SETS) stats.setRepairs.push(report);
      if (success) {
        stats.dataBlocksRepaired += missing;
        for (const i of missingIdx) {
          const block = Buffer.alloc(bs);
          block.set(shards[i] as Uint8Array, HEADER_SIZE);
          writeHeader(block, 0, version, ref.header.uid, first + i);
          await writer?.writeUnit([{ pos: positions[i], block }]);
        }
      } else {
        stats.dataBlocksFailedToRepair += missing;
      }
    }
    onProgress?.(processed() * bs, totalBlocks * bs);
  }
}
