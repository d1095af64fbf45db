// How much of a container's file can be had from the blocks that were found: which data chunks are present,
// which Reed-Solomon can rebuild (a block set with at least D shards, the last set's padding blocks counting as
// known), and which byte ranges of the decoded file are lost. Pure arithmetic over seqs: nothing is read.
import { Layout } from './layout';

export interface Recoverability {
  /** Missing data chunks that RS can rebuild from their block set. */
  dataChunksRepaired: number;
  /** Data chunks that can be neither read nor rebuilt. */
  dataChunksUnrecoverable: number;
  /** Byte ranges [start, end) of the decoded file that are lost, ascending and merged. */
  unreadableRanges: [number, number][];
}

/**
 * `foundSeqs`: the distinct data/parity seqs found (ascending, each in 1…lastSeq of the layout for `fileSize`).
 * Only found seqs are visited, so a damaged FSZ claiming a huge file costs no huge loop.
 */
export function recoverability(layout: Layout, fileSize: number, foundSeqs: readonly number[]): Recoverability {
  const ds = layout.dataSize;
  const chunkCount = layout.chunkCount(fileSize);
  let repaired = 0;
  let unrecoverable = 0;
  const unreadable: [number, number][] = [];
  /** Chunks [from, to) cannot be had. */
  const addBad = (from: number, to: number) => {
    if (to <= from) return;
    unrecoverable += to - from;
    const a = from * ds;
    const b = Math.min(fileSize, to * ds);
    const last = unreadable[unreadable.length - 1];
    if (last && last[1] === a) last[1] = b;
    else unreadable.push([a, b]);
  };
  if (layout.ec) {
    const d = layout.d;
    const t = layout.setSize;
    const setCount = Math.ceil(chunkCount / d);
    let next = 0; // first set not accounted yet
    const visit = (s: number, seqsInSet: number[]) => {
      addBad(next * d, Math.min(chunkCount, s * d)); // whole sets without a single block found
      const padding = Math.max(0, (s + 1) * d - chunkCount); // the last set's all-0x1A blocks are known
      const positions = seqsInSet.map((q) => (q - 1) % t);
      const isPaddingPos = (k: number) => k < d && s * d + k >= chunkCount;
      // Shards available for RS: every block found (padding ones counted once, with the known padding).
      const present = positions.filter((k) => !isPaddingPos(k)).length + padding;
      const foundPositions = new Set(positions);
      const missingData: number[] = [];
      for (let k = 0; k < d && s * d + k < chunkCount; k++) if (!foundPositions.has(k)) missingData.push(s * d + k);
      if (present >= d) repaired += missingData.length;
      else for (const c of missingData) addBad(c, c + 1);
      next = s + 1;
    };
    let cur = -1;
    let inSet: number[] = [];
    for (const seq of foundSeqs) {
      const s = Math.floor((seq - 1) / t);
      if (s !== cur) {
        if (cur >= 0) visit(cur, inSet);
        cur = s;
        inSet = [];
      }
      inSet.push(seq);
    }
    if (cur >= 0) visit(cur, inSet);
    addBad(next * d, Math.min(chunkCount, setCount * d));
  } else {
    let next = 0; // first chunk not accounted yet
    for (const seq of foundSeqs) {
      addBad(next, Math.min(chunkCount, seq - 1));
      next = Math.max(next, seq);
    }
    addBad(next, chunkCount);
  }
  return { dataChunksRepaired: repaired, dataChunksUnrecoverable: unrecoverable, unreadableRanges: unreadable };
}
