/**
 * blkar's scanning primitives (sbx-format.md §7.6, §8): 128-byte block scanning, reference block
 * choice, burst level guessing and starting-index guessing. Reads through a RandomReader.
 */
import { BlockHeader, isValidBlock, parseHeader } from './header';
import { Layout } from './layout';
import { Metadata, parseMetadataPayload } from './metadata';
import { RandomReader } from '../reader';
import { blockSizeOf, HEADER_SIZE, MAX_BLOCK_SIZE, MAX_GUESSABLE_BURST, SCAN_STEP, SbxVersion } from './specs';

/** A valid block found by scanning. */
export interface FoundBlock {
  /** Absolute byte position in the reader. */
  pos: number;
  header: BlockHeader;
  /** The block's bytes (its version's block size). */
  bytes: Buffer;
}

/** A reference block: fixes version, block size and UID; metadata parsed when seq = 0. */
export interface ReferenceBlock extends FoundBlock {
  meta: Metadata | null;
}

/** Which block may serve as reference: blkar's Prefer(Meta) (default), Any (--no-meta), MustBe(Meta). */
export type RefChoice = 'prefer-meta' | 'any' | 'must-be-meta';

/**
 * blkar's lazy 128-byte scan of [start, end): at each position read 128 bytes; if they hold a parsable
 * header, read the rest of that version's block (past `end` if needed, as blkar does) and check the CRC.
 * The scanner then advances by the CLAIMED block size whether the CRC matched or not (blkar quirk:
 * a corrupt header claiming v3 skips 4096 bytes); otherwise by 128. Stops when fewer than 128 bytes
 * (or fewer than a claimed block) remain. `onPosition` receives the next position after each step.
 */
export async function* scanBlocks(
  reader: RandomReader,
  start: number,
  end: number,
  onPosition?: (pos: number) => void,
): AsyncGenerator<FoundBlock> {
  const CHUNK = 1 << 20;
  let pos = start;
  let buf: Buffer = Buffer.alloc(0);
  let bufStart = start;
  while (pos < end) {
    if (pos + MAX_BLOCK_SIZE > bufStart + buf.length && bufStart + buf.length < reader.size) {
      buf = await reader.read(pos, CHUNK + MAX_BLOCK_SIZE);
      bufStart = pos;
    }
    const off = pos - bufStart;
    if (buf.length - off < SCAN_STEP) break; // EOF inside a 128-byte read
    const h = parseHeader(buf, off);
    if (!h) {
      pos += SCAN_STEP;
      onPosition?.(pos);
      continue;
    }
    const bs = blockSizeOf(h.version);
    if (buf.length - off < bs) break; // EOF inside the claimed block
    if (isValidBlock(buf, undefined, off)) yield { pos, header: h, bytes: Buffer.from(buf.subarray(off, off + bs)) };
    pos += bs;
    onPosition?.(pos);
  }
}

function toReference(b: FoundBlock): ReferenceBlock {
  return { ...b, meta: b.header.seq === 0 ? parseMetadataPayload(b.bytes.subarray(HEADER_SIZE)) : null };
}

/**
 * blkar's get_ref_block over [start, end) (start is used as given; blkar aligns --ref-from to 128
 * unless --force-misalign): returns the first valid metadata block, else (prefer-meta) the first
 * valid data block; with 'any' the first valid block of either kind. null when nothing qualifies.
 */
export async function findReferenceBlock(
  reader: RandomReader,
  choice: RefChoice = 'prefer-meta',
  start = 0,
  end = reader.size,
  onPosition?: (pos: number) => void,
): Promise<ReferenceBlock | null> {
  let firstData: FoundBlock | null = null;
  for await (const b of scanBlocks(reader, start, end, onPosition)) {
    if (b.header.seq === 0 || choice === 'any') return toReference(b);
    if (!firstData && choice === 'prefer-meta') firstData = b;
  }
  return firstData ? toReference(firstData) : null;
}

/**
 * blkar's burst level guess (§7.6): reads up to (1 + P) + 1000 + 1 whole blocks from `from` (callers
 * align it as blkar does), records the seq of each block that is valid with the reference's version
 * and UID, and counts, for every level 0 … 1000, the positions whose seq differs from the layout's
 * expectation (positions counted from `from`, as blkar does). Returns the smallest level with the
 * fewest mismatches, or null when all 1001 levels tie.
 */
export async function guessBurstLevel(
  reader: RandomReader,
  ref: { version: SbxVersion; uid: Uint8Array; d: number; p: number },
  from = 0,
): Promise<number | null> {
  const bs = blockSizeOf(ref.version);
  const count = 1 + ref.p + MAX_GUESSABLE_BURST + 1;
  const data = await reader.read(from, count * bs);
  const seqs: (number | null)[] = [];
  for (let off = 0; off + bs <= data.length; off += bs) {
    seqs.push(isValidBlock(data, { version: ref.version, uid: ref.uid }, off) ? (parseHeader(data, off) as BlockHeader).seq : null);
  }
  const mismatches: number[] = [];
  for (let level = 0; level <= MAX_GUESSABLE_BURST; level++) {
    const layout = new Layout({ version: ref.version, d: ref.d, p: ref.p, burst: level });
    let m = 0;
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i];
      if (s !== null && layout.indexToSeq(i) !== s) m++;
    }
    mismatches.push(m);
  }
  let best = 0;
  for (let l = 1; l < mismatches.length; l++) if (mismatches[l] < mismatches[best]) best = l;
  return mismatches.every((m) => m === mismatches[best]) ? null : best;
}

/**
 * blkar's guess of the container block index of the block at `from` (used when decoding a byte range
 * to stdout): samples 1024 blocks; each valid data block (reference version/UID) votes for
 * layout.seqToIndex(seq) − its position in the sample; the most voted index wins (0 if none).
 */
export async function guessStartingBlockIndex(
  reader: RandomReader,
  ref: { version: SbxVersion; uid: Uint8Array },
  layout: Layout,
  from = 0,
): Promise<number> {
  const bs = blockSizeOf(ref.version);
  const data = await reader.read(from, 1024 * bs);
  const votes = new Map<number, number>();
  for (let i = 0, off = 0; off + bs <= data.length; i++, off += bs) {
    if (!isValidBlock(data, { version: ref.version, uid: ref.uid }, off)) continue;
    const seq = (parseHeader(data, off) as BlockHeader).seq;
    if (seq === 0) continue;
    const idx = layout.seqToIndex(seq);
    if (idx < i) continue;
    votes.set(idx - i, (votes.get(idx - i) ?? 0) + 1);
  }
  let best: number | null = null;
  for (const [idx, n] of votes) if (best === null || n > (votes.get(best) as number)) best = idx;
  return best ?? 0;
}
