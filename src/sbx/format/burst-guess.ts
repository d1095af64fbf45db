// Guessing a container's burst error resistance level (sbx-format.md §7.6): try every level 0…1000, score how
// well the blocks found agree with the layout that level gives, keep the best (the smallest on a tie, as blkar).
// Two kinds of evidence feed the one search:
// - a container file (blkar's rule, guessBurstLevel): the seq found at each block position from a start;
//   the score is the number of positions whose seq differs from the level's;
// - blocks found on a medium at known byte offsets whose container start is unknown (guessBurstFromPositions):
//   the score is how many blocks agree on one container start, offset − index × blockSize (a metadata copy
//   agrees with any start that puts one of the level's metadata positions under it).
import { isValidBlock, parseHeader } from './header';
import { Layout } from './layout';
import { RandomReader } from '../reader';
import { blockSizeOf, MAX_GUESSABLE_BURST, SbxVersion } from './specs';

/**
 * The level in 0…MAX_GUESSABLE_BURST whose layout has the lowest `cost` (the smallest level on a tie).
 * `perfect` stops the search early (no later level can do better). null when every level costs the same.
 */
function bestLevel(version: SbxVersion, d: number, p: number, cost: (layout: Layout) => number, perfect = -Infinity): number | null {
  let best = 0;
  let bestCost = Infinity;
  let allEqual = true;
  for (let b = 0; b <= MAX_GUESSABLE_BURST; b++) {
    const c = cost(new Layout({ version, d, p, burst: b }));
    if (b > 0 && c !== bestCost) allEqual = false;
    if (c < bestCost) {
      best = b;
      bestCost = c;
      if (c <= perfect) return best;
    }
  }
  return allEqual ? null : best;
}

/**
 * blkar's burst level guess: reads up to (1 + P) + 1000 + 1 whole blocks from `from` (callers align it as blkar
 * does), records the seq of each block that is valid with the reference's version and UID, and counts, for every
 * level, the positions whose seq differs from the layout's (positions counted from `from`, as blkar does).
 * null when all 1001 levels tie.
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
    seqs.push(isValidBlock(data, { version: ref.version, uid: ref.uid }, off) ? parseHeader(data, off)!.seq : null);
  }
  return bestLevel(ref.version, ref.d, ref.p, (layout) => {
    let mismatches = 0;
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i];
      if (s !== null && layout.indexToSeq(i) !== s) mismatches++;
    }
    return mismatches;
  });
}

/** A block of one container found on a medium. */
export interface PlacedBlock {
  seq: number;
  offset: number;
}

/**
 * The level under which the most blocks agree on one container start; 0 when nothing can tell (a single block).
 * The metadata copies alone suffice (an empty file's container has nothing else): copy j sits at j·(1 + B).
 */
export function guessBurstFromPositions(version: SbxVersion, d: number, p: number, blocks: readonly PlacedBlock[]): number {
  if (blocks.length < 2) return 0;
  const agreeing = (layout: Layout): number => {
    const bs = layout.blockSize;
    const metaIdx = layout.metadataIndices();
    const votes = new Map<number, number>();
    let top = 0;
    const vote = (base: number) => {
      const n = (votes.get(base) ?? 0) + 1;
      votes.set(base, n);
      if (n > top) top = n;
    };
    for (const blk of blocks) {
      if (blk.seq >= 1) vote(blk.offset - layout.seqToIndex(blk.seq) * bs);
      else for (const i of metaIdx) vote(blk.offset - i * bs);
    }
    return top;
  };
  // Every block agreeing is perfect: no larger level can do better, and ties go to the smallest.
  return bestLevel(version, d, p, (layout) => -agreeing(layout), -blocks.length) ?? 0;
}
