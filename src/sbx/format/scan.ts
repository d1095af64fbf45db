/**
 * Finding SBX blocks (sbx-format.md §8): blkar's lazy 128-byte scan through a RandomReader, the reference block
 * choice and starting-index guess built on it, and a scan of medium bytes already in memory.
 */
import { BlockHeader, computeBlockCrc, isValidBlock, parseHeader } from './header';
import { Layout } from './layout';
import { Metadata, parseMetadataPayload } from './metadata';
import { RandomReader } from '../reader';
import { blockSizeOf, HEADER_SIZE, MAX_BLOCK_SIZE, SCAN_STEP, SbxVersion } from './specs';

/** A valid block found by scanning: where it is and its header. */
export interface FoundBlock {
  /** Absolute byte position (in the reader, or on the medium). */
  pos: number;
  header: BlockHeader;
}

/** A found block with its bytes (its version's block size). */
export interface ScannedBlock extends FoundBlock {
  bytes: Buffer;
}

/** A reference block: fixes version, block size and UID; metadata parsed when seq = 0. */
export interface ReferenceBlock extends ScannedBlock {
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
): AsyncGenerator<ScannedBlock> {
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

function toReference(b: ScannedBlock): ReferenceBlock {
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
  let firstData: ScannedBlock | null = null;
  for await (const b of scanBlocks(reader, start, end, onPosition)) {
    if (b.header.seq === 0 || choice === 'any') return toReference(b);
    if (!firstData && choice === 'prefer-meta') firstData = b;
  }
  return firstData ? toReference(firstData) : null;
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

const SIGNATURE = Buffer.from('SBx', 'latin1');

/**
 * The valid blocks whose first byte lies in [from, to) at a 128-aligned medium offset and whose whole block
 * lies inside `buf`, which holds the medium bytes [bufStart, bufStart + buf.length). `bytes` are views into
 * `buf` (no copy). Unlike scanBlocks this does not jump over the size a header claims when its CRC fails: that
 * blkar quirk (§8) can hide a real block behind a random "SBx", and a finder that sees more blocks loses nothing.
 */
export function scanForBlocks(buf: Buffer, bufStart: number, from: number, to: number): ScannedBlock[] {
  const found: ScannedBlock[] = [];
  const first = Math.max(from, bufStart);
  const last = Math.min(to, bufStart + buf.length);
  let i = first - bufStart;
  // indexOf is a memchr-speed search; random bytes hold a signature once per 16 MiB on average.
  while (i < last - bufStart) {
    const at = buf.indexOf(SIGNATURE, i);
    if (at < 0 || at >= last - bufStart) break;
    const misalign = (bufStart + at) % SCAN_STEP;
    if (misalign !== 0) {
      i = at + (SCAN_STEP - misalign);
      continue;
    }
    const h = parseHeader(buf, at);
    const bs = h ? blockSizeOf(h.version) : 0;
    if (h && at + bs <= buf.length && computeBlockCrc(buf, h.version, at) === h.crc) {
      found.push({ pos: bufStart + at, header: h, bytes: buf.subarray(at, at + bs) });
    }
    i = at + SCAN_STEP;
  }
  return found;
}
