/**
 * `check` workflow (blkar check_core, sbx-format.md §10.2): verify every block-aligned block of the range
 * against the reference block (CRC, version, UID); all-zero blocks are burst holes and count as fine unless
 * `reportBlank`. With `hash` / `hashOnly`, re-hash the stored data in sequence order and compare with HSH.
 */
import { isBlankBlock, uidToHex } from './header';
import { createHasher, formatMultihash, isSupportedHashType } from './multihash';
import { FileReader, RandomReader } from './reader';
import { isEcVersion } from './specs';
import {
  burstOrGuess,
  ByteRange,
  checkRecordedSize,
  findReferenceBlock,
  hashStoredData,
  isSameContainerBlock,
  layoutOf,
  Progress,
  refBlockType,
  resolveRange,
  rsParamsOf,
  secondsSince,
  WorkflowError,
  RefBlockInfo,
} from './workflow-common';

export interface CheckParams {
  input: string;
  noMeta?: boolean;
  reportBlank?: boolean;
  /** Check the blocks, then the stored data's hash. */
  hash?: boolean;
  /** Only the hash. */
  hashOnly?: boolean;
  burst?: number;
  guessBurstFrom?: number;
  range?: ByteRange;
  refRange?: ByteRange;
  onProgress?: Progress;
  onHashProgress?: Progress;
}

/** A block that failed the check (byte position; blank = all zeros). */
export interface FailedBlock {
  pos: number;
  blank: boolean;
}

export interface CheckStats {
  ref: RefBlockInfo;
  uid: string;
  /** Set when hashing needed the layout (EC versions). */
  burst: number | null;
  version: number;
  blockSize: number;
  blocksProcessed: number;
  metaBlocksPassed: number;
  dataBlocksPassed: number;
  blocksFailed: number;
  /** Failed blocks (blank ones only with reportBlank), at most 10 000 listed. */
  failures: FailedBlock[];
  blockCheckSeconds: number;
  hashChecked: boolean;
  recordedHash: string | null;
  storedDataHash: string | null;
  hashMatches: boolean | null;
  /** Data chunks that were missing or invalid while hashing. */
  missingChunks: number;
  hashSeconds: number;
  totalSeconds: number;
}

const MAX_LISTED_FAILURES = 10000;

export async function checkContainer(params: CheckParams): Promise<CheckStats> {
  const t0 = Date.now();
  const reader = await FileReader.open(params.input);
  try {
    return await checkFrom(reader, params, t0);
  } finally {
    await reader.close();
  }
}

async function checkFrom(reader: RandomReader, params: CheckParams, t0: number): Promise<CheckStats> {
  const ref = await findReferenceBlock(reader, params.noMeta ? 'any' : 'prefer-meta', params.refRange ?? { from: params.range?.from });
  const version = ref.header.version;
  const wantHash = !!(params.hash || params.hashOnly);
  const stats: CheckStats = {
    ref: { type: refBlockType(ref), version, pos: ref.pos },
    uid: uidToHex(ref.header.uid),
    burst: null,
    version,
    blockSize: 0,
    blocksProcessed: 0,
    metaBlocksPassed: 0,
    dataBlocksPassed: 0,
    blocksFailed: 0,
    failures: [],
    blockCheckSeconds: 0,
    hashChecked: false,
    recordedHash: null,
    storedDataHash: null,
    hashMatches: null,
    missingChunks: 0,
    hashSeconds: 0,
    totalSeconds: 0,
  };

  // Hash prerequisites are checked first so a doomed --hash run fails before the long block pass.
  let rs: { d: number; p: number } | null = null;
  if (wantHash) {
    const meta = ref.meta;
    if (!meta) throw new WorkflowError('Reference block is not a metadata block, hash check is not possible');
    if (meta.fsz === undefined) throw new WorkflowError('Reference block does not have a file size field (FSZ), hash check is not possible');
    if (!meta.hsh) throw new WorkflowError('Reference block does not have a hash field (HSH), hash check is not possible');
    if (!isSupportedHashType(meta.hsh.type)) throw new WorkflowError(`Hash type ${meta.hsh.type} is not supported, hash check is not possible`);
    if (isEcVersion(version)) {
      rs = rsParamsOf(ref, 'hash check');
      stats.burst = await burstOrGuess(reader, ref, rs.d, rs.p, params.burst, params.guessBurstFrom ?? 0);
    }
  }
  const layout = layoutOf(ref, rs ?? (isEcVersion(version) && ref.meta?.rsd && ref.meta?.rsp ? { d: ref.meta.rsd, p: ref.meta.rsp } : null), stats.burst ?? 0);
  stats.blockSize = layout.blockSize;

  if (!params.hashOnly) {
    const tb = Date.now();
    const bs = layout.blockSize;
    const { start, end } = resolveRange(params.range, reader.size, bs);
    const STEP = bs * Math.max(1, Math.floor((1 << 20) / bs));
    for (let chunkPos = start; chunkPos < end; chunkPos += STEP) {
      const buf = await reader.read(chunkPos, Math.min(STEP, end - chunkPos));
      for (let off = 0; off < buf.length; off += bs) {
        stats.blocksProcessed++;
        if (off + bs <= buf.length && isSameContainerBlock(buf, ref, undefined, off)) {
          if (buf.readUInt32BE(off + 12) === 0) stats.metaBlocksPassed++;
          else stats.dataBlocksPassed++;
          continue;
        }
        const blank = isBlankBlock(buf, off, Math.min(bs, buf.length - off));
        if (blank && !params.reportBlank) continue;
        stats.blocksFailed++;
        if (stats.failures.length < MAX_LISTED_FAILURES) stats.failures.push({ pos: chunkPos + off, blank });
      }
      params.onProgress?.(chunkPos + buf.length - start, end - start);
    }
    stats.blockCheckSeconds = secondsSince(tb);
  }

  if (wantHash && ref.meta?.hsh && ref.meta.fsz !== undefined && isSupportedHashType(ref.meta.hsh.type)) {
    checkRecordedSize(layout, ref.meta.fsz);
    const th = Date.now();
    const hasher = createHasher(ref.meta.hsh.type);
    const { missingChunks } = await hashStoredData(reader, ref, layout, ref.meta.fsz, hasher, params.onHashProgress);
    const digest = hasher.digest();
    stats.hashChecked = true;
    stats.missingChunks = missingChunks;
    stats.recordedHash = formatMultihash(ref.meta.hsh);
    stats.storedDataHash = formatMultihash({ type: hasher.type, digest });
    stats.hashMatches = digest.equals(ref.meta.hsh.digest);
    stats.hashSeconds = secondsSince(th);
  }
  stats.totalSeconds = secondsSince(t0);
  return stats;
}
