// data/image.sbx in parts (S3 multipart parts; write units of a directory bag): which container bytes each part
// holds, which bytes of the medium image its blocks are computed from (so it can be produced as soon as those
// sectors are settled), and which parts hold metadata blocks (they need the hash of the whole image: last).
import { UserError } from '../errors';
import { Layout, LayoutParams } from '../sbx/format/layout';

export const MiB = 1 << 20;
/** S3's smallest part (every part but the last must be at least this) and its most parts. */
export const MIN_PART_SIZE = 5 * MiB;
export const MAX_PARTS = 10_000;
export const DEFAULT_PART_SIZE = 8 * MiB;
/**
 * The largest part (--part-size 1G): each is held in one buffer and hashed in one piece while it is stored, and
 * Node's hashes take under 2 GiB at once ("data is too long"). S3 objects are at most 5 TiB: 10,000 parts of 525 MiB.
 */
export const MAX_PART_SIZE = 1024 * MiB;

export interface PartSpec {
  /** 1-based, as S3 numbers parts. */
  n: number;
  offset: number;
  size: number;
  /** Image bytes [imageStart, imageEnd) the part's blocks are computed from (empty when none). */
  imageStart: number;
  imageEnd: number;
  /** Holds a metadata copy: needs the whole image's hash, so it is produced last. */
  metadata: boolean;
}

/**
 * The part size to use: at least `wanted` (a multiple of the block size), enough for MAX_PARTS parts, at most
 * MAX_PART_SIZE (a container over ~10 TiB then has more parts: a directory takes them, S3 does not, see s3PartsFit).
 */
export function choosePartSize(containerSize: number, blockSize: number, wanted = DEFAULT_PART_SIZE): number {
  const atLeast = Math.max(MIN_PART_SIZE, wanted, Math.ceil(containerSize / MAX_PARTS));
  return Math.min(Math.ceil(atLeast / blockSize), Math.floor(MAX_PART_SIZE / blockSize)) * blockSize;
}

/** A UserError when S3 (BagStore.maxParts) cannot take the container in parts of `partSize`: over 10,000 of them. */
export function s3PartsFit(containerSize: number, partSize: number, maxParts = MAX_PARTS): void {
  const parts = Math.ceil(containerSize / partSize);
  if (parts > maxParts) {
    throw new UserError(
      `the SBX container (${containerSize} bytes) needs ${parts} parts of ${partSize} bytes, and S3 takes at most ${maxParts} (its objects are at most 5 TiB): archive it to a directory`,
    );
  }
}

export function planParts(layoutParams: LayoutParams, fileSize: number, partSize: number): PartSpec[] {
  const l = new Layout(layoutParams);
  const bs = l.blockSize;
  if (partSize % bs !== 0) throw new RangeError(`part size ${partSize} is not a multiple of the block size ${bs}`);
  const containerSize = l.containerSize(fileSize);
  const lastSeq = l.lastSeq(fileSize);
  const setBytes = (l.ec ? l.d : 1) * l.dataSize;
  const parts: PartSpec[] = [];
  for (let offset = 0, n = 1; offset < containerSize; offset += partSize, n++) {
    const size = Math.min(partSize, containerSize - offset);
    let minSet = Infinity;
    let maxSet = -1;
    let metadata = false;
    for (let idx = offset / bs; idx < (offset + size) / bs; idx++) {
      if (l.isMetadataIndex(idx)) {
        metadata = true;
        continue;
      }
      const seq = l.indexToSeq(idx);
      if (seq < 1 || seq > lastSeq) continue;
      const set = l.setOfSeq(seq);
      if (set < minSet) minSet = set;
      if (set > maxSet) maxSet = set;
    }
    const imageStart = maxSet < 0 ? 0 : Math.min(fileSize, minSet * setBytes);
    const imageEnd = maxSet < 0 ? 0 : Math.min(fileSize, (maxSet + 1) * setBytes);
    parts.push({ n, offset, size, imageStart, imageEnd, metadata });
  }
  return parts;
}

/** Parts in the order they can be produced: data parts by number, metadata parts after them. */
export function productionOrder(parts: readonly PartSpec[]): PartSpec[] {
  return [...parts.filter((p) => !p.metadata), ...parts.filter((p) => p.metadata)];
}
