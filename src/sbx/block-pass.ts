// Passes over a container's blocks: blkar's block-aligned pass over a byte range, and the hash of the stored
// data read in sequence order.
import { HEADER_SIZE } from './format/specs';
import { Layout } from './format/layout';
import { ReferenceBlock } from './format/scan';
import { RandomReader } from './reader';
import { isSameContainerBlock } from './reference-block';

/** Progress callback: units (bytes) done and total. */
export type Progress = (unitsSoFar: number, totalUnits: number) => void;

/** Seconds since `t0` (ms) for the stats' elapsed times. */
export function secondsSince(t0: number): number {
  return (Date.now() - t0) / 1000;
}

/**
 * blkar's block-aligned pass: whole blocks from `start` for as long as a block's position is below `end`
 * (byte-range.ts), reading about 1 MiB at a time; `each(buf, off, pos)` gets every whole block. A block cut
 * short by the end of the file ends the pass unprocessed, as in blkar. Progress after each read.
 */
export async function forEachBlock(
  reader: RandomReader,
  start: number,
  end: number,
  blockSize: number,
  each: (buf: Buffer, off: number, pos: number) => void | Promise<void>,
  onProgress?: Progress,
): Promise<void> {
  const blocks = Math.ceil((end - start) / blockSize);
  const total = blocks * blockSize;
  const step = blockSize * Math.max(1, Math.floor((1 << 20) / blockSize));
  for (let done = 0; done < total; done += step) {
    const buf = await reader.read(start + done, Math.min(step, total - done));
    for (let off = 0; off + blockSize <= buf.length; off += blockSize) {
      const r = each(buf, off, start + done + off);
      if (r) await r;
    }
    onProgress?.(Math.min(done + buf.length, end - start), end - start);
    if (buf.length < Math.min(step, total - done)) break; // end of file
  }
}

/**
 * Hash of the first `fsz` data bytes of a container, read chunk by chunk in sequence order through the layout
 * (what `check --hash` and `update --hash` compare with HSH). A missing or invalid data block contributes
 * zeros, so the digest then differs from the recorded one (and once the rest lie past the end of the container, they
 * are counted without being read or hashed). Also returns how many chunks were missing.
 */
export async function hashStoredData(
  reader: RandomReader,
  ref: ReferenceBlock,
  layout: Layout,
  fsz: number,
  hasher: { update(data: Uint8Array): void },
  onProgress?: Progress,
): Promise<{ missingChunks: number }> {
  const bs = layout.blockSize;
  const ds = layout.dataSize;
  const chunks = layout.chunkCount(fsz);
  const zero = Buffer.alloc(ds);
  let missing = 0;
  for (let k = 0; k < chunks; k++) {
    const seq = layout.seqOfChunk(k);
    if (layout.lowestIndexFrom(seq) * bs >= reader.size) {
      // This chunk and every later one lie past the end of the container (one whose metadata claims 1 TiB was
      // hashed as zeros for hours): all missing, no hash to give.
      missing += chunks - k;
      break;
    }
    const b = await reader.read(layout.seqToIndex(seq) * bs, bs);
    const ok = isSameContainerBlock(b, ref, seq);
    if (!ok) missing++;
    const payload = ok ? b.subarray(HEADER_SIZE, bs) : zero;
    hasher.update(k === chunks - 1 && fsz % ds !== 0 ? payload.subarray(0, fsz % ds) : payload);
    if (k % 256 === 0) onProgress?.(k * ds, fsz);
  }
  onProgress?.(fsz, fsz);
  return { missingChunks: missing };
}
