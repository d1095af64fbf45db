// blkar's byte ranges (--from / --to-inc / --to-exc, misc_utils::calc_required_len_and_seek_to_from_byte_range),
// one rule for every workflow: the start is clamped to the last byte and rounded down to the alignment (unless
// --force-misalign); the end is clamped to at least the start and at most the last byte. Reads then go by whole
// blocks (or 128-byte scan steps) from the start: the end only decides whether another read STARTS, so the last
// block is never cut, and an end below the start still gives one block.
// Positions are any u64, as blkar takes them (18446744073709551615 is how its users say "to the end"): they are
// compared exactly, as bigints, and only the clamped results (within the file) become numbers.
import { SCAN_STEP } from './format/specs';

/** A byte position as blkar takes it: a u64 (a number where it fits one exactly, as library callers give it). */
export type BytePosition = number | bigint;

/** A byte range as blkar's --from / --to-inc / --to-exc give it. */
export interface ByteRange {
  from?: BytePosition;
  toInclusive?: BytePosition;
  toExclusive?: BytePosition;
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
  const lastPos = BigInt(size === 0 ? 0 : size - 1);
  let start = min(BigInt(r.from ?? 0), lastPos);
  if (!r.forceMisalign) start -= start % BigInt(align);
  let toInc = lastPos;
  if (r.toInclusive !== undefined) toInc = BigInt(r.toInclusive);
  // blkar computes to-exc − 1 in u64: --to-exc 0 wraps around to "the whole file".
  else if (r.toExclusive !== undefined) toInc = BigInt(r.toExclusive) === 0n ? lastPos : BigInt(r.toExclusive) - 1n;
  toInc = min(toInc > start ? toInc : start, lastPos);
  return { start: Number(start), end: Math.min(size, Number(toInc) + 1) };
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

/** A position past any file (2^53: a multiple of every block size) for one further on, where nothing is read either. */
export function positionAsNumber(pos: BytePosition): number {
  const beyond = 2n ** 53n;
  return Number(min(BigInt(pos), beyond));
}

/**
 * blkar's reference-block search range (get_ref_block!): `--ref-from`/`--ref-to-*` when given; without
 * --ref-from, a run with `--from` searches from the start of the file shifted by --from's misalignment
 * (--from mod 128), never from --from itself. `--force-misalign` applies to both.
 */
export function refSearchRange(refRange: ByteRange | undefined, range: ByteRange | undefined): ByteRange {
  const from = refRange?.from ?? (range?.from !== undefined ? BigInt(range.from) % BigInt(SCAN_STEP) : undefined);
  return { from, toInclusive: refRange?.toInclusive, toExclusive: refRange?.toExclusive, forceMisalign: !!range?.forceMisalign };
}
