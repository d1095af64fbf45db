// blkar's byte ranges (--from / --to-inc / --to-exc, misc_utils::calc_required_len_and_seek_to_from_byte_range),
// one rule for every workflow: the start is clamped to the last byte and rounded down to the alignment (unless
// --force-misalign); the end is clamped to at least the start and at most the last byte. Reads then go by whole
// blocks (or 128-byte scan steps) from the start: the end only decides whether another read STARTS, so the last
// block is never cut, and an end below the start still gives one block.
import { SCAN_STEP } from './format/specs';

/** A byte range as blkar's --from / --to-inc / --to-exc give it. */
export interface ByteRange {
  from?: number;
  toInclusive?: number;
  toExclusive?: number;
  /** Do not round `from` down to a multiple of the alignment. */
  forceMisalign?: boolean;
}

/**
 * The range over a file of `size` bytes: `start` (where reading starts) and `end` (a block read starts only
 * while its position is below `end`; `end - start` is blkar's "required length"). `align` is the block size,
 * the scan step, or 1 for byte-exact ranges (encode).
 */
export function resolveByteRange(range: ByteRange | undefined, size: number, align: number): { start: number; end: number } {
  const r = range ?? {};
  const lastPos = size === 0 ? 0 : size - 1;
  let start = Math.min(r.from ?? 0, lastPos);
  if (!r.forceMisalign) start -= start % align;
  let toInc = lastPos;
  if (r.toInclusive !== undefined) toInc = r.toInclusive;
  // blkar computes to-exc − 1 in u64: --to-exc 0 wraps around to "the whole file".
  else if (r.toExclusive !== undefined) toInc = r.toExclusive === 0 ? lastPos : r.toExclusive - 1;
  toInc = Math.min(Math.max(toInc, start), lastPos);
  return { start, end: Math.min(size, toInc + 1) };
}

/**
 * blkar's reference-block search range (get_ref_block!): `--ref-from`/`--ref-to-*` when given; without
 * --ref-from, a run with `--from` searches from the start of the file shifted by --from's misalignment
 * (--from mod 128), never from --from itself. `--force-misalign` applies to both.
 */
export function refSearchRange(refRange: ByteRange | undefined, range: ByteRange | undefined): ByteRange {
  const from = refRange?.from ?? (range?.from !== undefined ? range.from % SCAN_STEP : undefined);
  return { from, toInclusive: refRange?.toInclusive, toExclusive: refRange?.toExclusive, forceMisalign: !!range?.forceMisalign };
}
