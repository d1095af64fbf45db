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
