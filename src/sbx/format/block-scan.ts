// Finding SBX blocks inside medium bytes, as `blkar rescue` does: a block may start at any offset that is a
// multiple of 128 (the GCD of all block sizes) counted from the start of the medium, and is kept when its
// header parses and its CRC matches, whatever its version or UID.
//
// Unlike blkar's scanner this one does not jump over the size a header claims when its CRC fails: that
// quirk (sbx-format.md §8) can hide a real block behind a random "SBx" signature, and a finder that sees
// more blocks loses nothing (a block is only kept when its CRC is right).
import { computeBlockCrc, parseHeader } from './header';
import { blockSizeOf, SbxVersion, SCAN_STEP } from './specs';

export interface FoundBlock {
  /** Byte offset of the block on the medium. */
  offset: number;
  version: SbxVersion;
  uid: Buffer;
  seq: number;
}

const SIGNATURE = Buffer.from('SBx', 'latin1');

/**
 * The valid blocks whose first byte lies in [from, to) at a 128-aligned medium offset and whose whole
 * block lies inside `buf`, which holds the medium bytes [bufStart, bufStart + buf.length).
 */
export function scanForBlocks(buf: Buffer, bufStart: number, from: number, to: number): FoundBlock[] {
  const found: FoundBlock[] = [];
  const bufEnd = bufStart + buf.length;
  const first = Math.max(from, bufStart);
  const last = Math.min(to, bufEnd);
  let i = first - bufStart;
  // indexOf is a memchr-speed search; random bytes hold a signature once per 16 MiB on average.
  while (i < last - bufStart) {
    const at = buf.indexOf(SIGNATURE, i);
    if (at < 0 || at >= last - bufStart) break;
    const abs = bufStart + at;
    const misalign = abs % SCAN_STEP;
    if (misalign !== 0) {
      i = at + (SCAN_STEP - misalign);
      continue;
    }
    const h = parseHeader(buf, at);
    if (h && at + blockSizeOf(h.version) <= buf.length && computeBlockCrc(buf, h.version, at) === h.crc) {
      found.push({ offset: abs, version: h.version, uid: h.uid, seq: h.seq });
    }
    i = at + SCAN_STEP;
  }
  return found;
}
