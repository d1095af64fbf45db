// The burst level of a container found on the medium. blkar guesses it from a container file by comparing,
// for each level 0…1000, the seq found at each block position with the seq that level puts there (§7.6).
// Here the blocks sit on the medium at known byte offsets but the container's own start is not known, so
// each level is judged by how many blocks agree on one container start: offset − index × blockSize (a
// metadata copy agrees with any start that puts one of the level's metadata positions under it). The level
// with the most agreeing blocks wins, the smallest on a tie, as in blkar.
import { Layout } from './layout';
import { MAX_GUESSABLE_BURST, SbxVersion } from './specs';

export interface PlacedBlock {
  seq: number;
  offset: number;
}

export function guessBurstFromPositions(version: SbxVersion, d: number, p: number, blocks: readonly PlacedBlock[]): number {
  if (!blocks.some((b) => b.seq >= 1)) return 0;
  let best = 0;
  let bestCount = -1;
  for (let b = 0; b <= MAX_GUESSABLE_BURST; b++) {
    const layout = new Layout({ version, d, p, burst: b });
    const bs = layout.blockSize;
    const metaIdx = layout.metadataIndices();
    const bases = new Map<number, number>();
    let top = 0;
    const vote = (base: number) => {
      const n = (bases.get(base) ?? 0) + 1;
      bases.set(base, n);
      if (n > top) top = n;
    };
    for (const blk of blocks) {
      if (blk.seq >= 1) vote(blk.offset - layout.seqToIndex(blk.seq) * bs);
      else for (const i of metaIdx) vote(blk.offset - i * bs);
    }
    if (top > bestCount) {
      best = b;
      bestCount = top;
      // Every block agrees: no larger level can do better, and ties go to the smallest.
      if (top === blocks.length) break;
    }
  }
  return best;
}
