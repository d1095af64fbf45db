/**
 * `check` workflow (blkar check_core, sbx-format.md §10.2): verify every block-aligned block of the range
 * against the reference block (CRC, version, UID); all-zero blocks are burst holes and count as fine unless
 * `reportBlank`. With `hash` / `hashOnly`, re-hash the stored data in sequence order and compare with HSH.
 */
import { isBlankBlock, uidToHex } from './format/header';
import { createHasher, formatMultihash, isSupportedHashType } from './format/multihash';
import { Layout } from './format/layout';
import { RandomReader } from './reader';
import { blockSizeOf } from './format/specs';
import { Progress, forEachBlock, hashStoredData, secondsSince } from './block-pass';
import { BytePosition, ByteRange, refSearchRange, resolveByteRange } from './byte-range';
import { burstGuessStart, checkRecordedSize, containerLayout } from './container-layout';
import { withFileReader } from './file-io';
import { RefBlockInfo, isSameContainerBlock, refBlockInfo, requireReferenceBlock } from './reference-block';
import { WorkflowError } from './workflow-errors';

export interface CheckParams {
  input: string;
  noMeta?: boolean;
  reportBlank?: boolean;
  /** Check the blocks, then the stored data's hash. */
  hash?: boolean;
  /** Only the hash. */
  hashOnly?: boolean;
  burst?: number;
  guessBurstFrom?: BytePosition;
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
  /** Why there is no hash of the stored data (a data block it needs is missing or damaged). */
  hashError: string | null;
  /** Data chunks that were missing or invalid while hashing. */
  missingChunks: number;
  hashSeconds: number;
  totalSeconds: number;
}

const MAX_LISTED_FAILURES = 10000;

export function checkContainer(params: CheckParams): Promise<CheckStats> {
  const t0 = Date.now();
  return withFileReader(params.input, (reader) => checkFrom(reader, params, t0));
}

async function checkFrom(reader: RandomReader, params: CheckParams, t0: number): Promise<CheckStats> {
  const ref = await requireReferenceBlock(reader, params.noMeta ? 'any' : 'prefer-meta', refSearchRange(params.refRange, params.range));
  const version = ref.header.version;
  const wantHash = !!(params.hash || params.hashOnly);
  const stats: CheckStats = {
    ref: refBlockInfo(ref),
    uid: uidToHex(ref.header.uid),
    burst: null,
    version,
    blockSize: blockSizeOf(version),
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
    hashError: null,
    missingChunks: 0,
    hashSeconds: 0,
    totalSeconds: 0,
  };

  // Hash prerequisites are checked first so a doomed --hash run fails before the long block pass. Only hashing
  // needs the layout (RS parameters, burst level); the block pass needs the block size alone.
  let layout: Layout | null = null;
  if (wantHash) {
    const meta = ref.meta;
    // blkar's messages (check_core.rs).
    if (!meta) throw new WorkflowError('Reference block is not a metadata block');
    if (meta.fsz === undefined) throw new WorkflowError('Reference block does not have a file size field');
    if (!meta.hsh) throw new WorkflowError('Reference block does not have a hash field');
    if (!isSupportedHashType(meta.hsh.type)) throw new WorkflowError('Unsupported hash algorithm');
    try {
      const c = await containerLayout(reader, ref, 'check', {
        burst: params.burst,
        guessFrom: burstGuessStart(ref.bytes.length, params.guessBurstFrom, params.range),
      });
      stats.burst = c.burst;
      layout = c.layout;
    } catch (e) {
      // blkar finds the layout inside its hashing step: an unguessable burst level (or an EC block without
      // RSD/RSP) is that step's result, printed with the block check's counts, not a failed run.
      if (!(e instanceof WorkflowError)) throw e;
      stats.hashChecked = true;
      stats.recordedHash = formatMultihash(meta.hsh);
      stats.hashError = e.message;
    }
  }

  if (!params.hashOnly) {
    const tb = Date.now();
    const bs = stats.blockSize;
    const { start, end } = resolveByteRange(params.range, reader.size, bs);
    const onBlock = (buf: Buffer, off: number, pos: number) => {
      stats.blocksProcessed++;
      if (off + bs <= buf.length && isSameContainerBlock(buf, ref, undefined, off)) {
        if (buf.readUInt32BE(off + 12) === 0) stats.metaBlocksPassed++;
        else stats.dataBlocksPassed++;
        return;
      }
      const blank = isBlankBlock(buf, off, Math.min(bs, buf.length - off));
      if (blank && !params.reportBlank) return;
      stats.blocksFailed++;
      if (stats.failures.length < MAX_LISTED_FAILURES) stats.failures.push({ pos, blank });
    };
    await forEachBlock(reader, start, end, bs, onBlock, params.onProgress);
    stats.blockCheckSeconds = secondsSince(tb);
  }

  if (layout && ref.meta?.hsh && ref.meta.fsz !== undefined && isSupportedHashType(ref.meta.hsh.type)) {
    checkRecordedSize(layout, ref);
    const th = Date.now();
    const hasher = createHasher(ref.meta.hsh.type);
    const { missingChunks } = await hashStoredData(reader, ref, layout, ref.meta.fsz, hasher, params.onHashProgress);
    const digest = hasher.digest();
    stats.hashChecked = true;
    stats.missingChunks = missingChunks;
    stats.recordedHash = formatMultihash(ref.meta.hsh);
    if (missingChunks > 0) {
      // blkar stops hashing at the first data block it cannot decode: there is no hash of the stored data.
      stats.hashError = 'Failed to decode data block';
    } else {
      stats.storedDataHash = formatMultihash({ type: hasher.type, digest });
      stats.hashMatches = digest.equals(ref.meta.hsh.digest);
    }
    stats.hashSeconds = secondsSince(th);
  }
  stats.totalSeconds = secondsSince(t0);
  return stats;
}
