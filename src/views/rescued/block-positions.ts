// Where a container's unseen blocks must lie on the medium. A container written to a medium (a disc holding the
// .sbx file, a partition it was dd'ed to) keeps its blocks in order, so a block's medium offset follows from the
// nearest block already found: anchor.offset + (position - anchor.position) * blockSize, where positions are
// the container layout's block indices. A file system may fragment the container, so the nearest anchor before
// the position is preferred (the fragment it most likely shares), then the nearest after it. Guesses are only
// guesses: the caller reads them through the cache and keeps a block only if it checks out (CRC, UID, seq).

export interface Anchor {
  /** Block index in the container layout. */
  index: number;
  /** Byte offset of that block on the medium. */
  offset: number;
}

/** Sorted by index, one anchor per index (the last given wins). */
export function sortAnchors(anchors: Iterable<Anchor>): Anchor[] {
  const byIndex = new Map<number, number>();
  for (const a of anchors) byIndex.set(a.index, a.offset);
  return [...byIndex].map(([index, offset]) => ({ index, offset })).sort((a, b) => a.index - b.index);
}

/** The predicted medium offset of the block at layout `index`, or undefined if it falls outside the medium. */
export function predictOffset(sorted: readonly Anchor[], index: number, blockSize: number, mediumSize: number): number | undefined {
  if (sorted.length === 0) return undefined;
  let lo = 0;
  let hi = sorted.length; // first anchor with index > target
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid].index <= index) lo = mid + 1;
    else hi = mid;
  }
  const anchor = lo > 0 ? sorted[lo - 1] : sorted[0];
  const offset = anchor.offset + (index - anchor.index) * blockSize;
  return offset >= 0 && offset + blockSize <= mediumSize ? offset : undefined;
}

/** What predictions need of a container model: its layout and the blocks found so far. */
export interface PredictionSource {
  blockSize: number;
  mediumSize: number;
  seqToIndex(seq: number): number;
  /** seq → medium offset of every block found (NaN where none), index 0 unused. */
  offsets: Float64Array;
  /** A metadata block found, with its layout index when known (non-EC containers: index 0). */
  metadata?: Anchor;
}

/** Anchors of a model, built once per model (the caller keeps them). */
export function anchorsOf(src: PredictionSource): Anchor[] {
  const found: Anchor[] = src.metadata ? [src.metadata] : [];
  for (let seq = 1; seq < src.offsets.length; seq++) {
    const o = src.offsets[seq];
    if (!Number.isNaN(o)) found.push({ index: src.seqToIndex(seq), offset: o });
  }
  return sortAnchors(found);
}

/** Predicted positions of `seqs` (those with no block found), for reading through the cache and checking. */
export function predictSeqs(src: PredictionSource, anchors: readonly Anchor[], seqs: readonly number[]): { seq: number; offset: number }[] {
  const out: { seq: number; offset: number }[] = [];
  for (const seq of seqs) {
    if (!Number.isNaN(src.offsets[seq] ?? 0)) continue;
    const offset = predictOffset(anchors, src.seqToIndex(seq), src.blockSize, src.mediumSize);
    if (offset !== undefined) out.push({ seq, offset });
  }
  return out;
}

/** A model's prediction source; a non-EC container's metadata block (the reference block) anchors index 0. */
export function predictionSource(
  layout: { ec: boolean; seqToIndex(seq: number): number } | undefined,
  ref: { kind: string; offset: number },
  blockSize: number,
  mediumSize: number,
  offsets: Float64Array,
): PredictionSource | undefined {
  if (!layout) return undefined;
  const metadata = ref.kind === 'meta' && !layout.ec ? { index: 0, offset: ref.offset } : undefined;
  return { blockSize, mediumSize, seqToIndex: (q) => layout.seqToIndex(q), offsets, metadata };
}
