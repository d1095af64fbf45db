// The burst level of an EC container found on the medium. It decides where every block of /rescued/<UID>/<UID>.sbx
// sits, so it must not change once that file has been served: a level guessed from the few blocks scanned so far
// and guessed again as the scan finds more would move blocks between two reads of the same file.
// So the files of /rescued/<UID>/ take it SETTLED: decided once, from the evidence blkar itself uses (the blocks
// at the (1 + P) + 1000 + 1 positions from the container on, sbx-format.md §7.6), read through the cache when the
// index does not hold them yet (each sector once), then kept: for the mount, and in the cache's database once that
// evidence was complete (no position in it unreadable), so a remount serves the same order.
import type { SectorCache } from '../../cache/sector-cache';
import { guessBurstFromPositions, PlacedBlock } from '../../sbx/format/burst-guess';
import { isValidBlock } from '../../sbx/format/header';
import { Layout } from '../../sbx/format/layout';
import { blockSizeOf, SbxVersion } from '../../sbx/format/specs';
import type { BlockIndex, IndexedBlock } from './block-index';

/** Blocks the guesser looks at (blkar reads up to 1 + P + 1000 + 1 blocks). */
const GUESS_SAMPLE = 1024;
/** Largest single cache read when probing. */
const MAX_FETCH = 4 << 20;

/** settled: decided before; complete: from every block blkar would look at; partial: some of them unread. */
export type BurstEvidence = 'settled' | 'complete' | 'partial';

export interface BurstLevel {
  burst: number;
  evidence: BurstEvidence;
  /** Valid blocks read while probing, not indexed yet: positions known, like the index's. */
  probed: PlacedBlock[];
}

/** What a container's level is settled for: one UID, version and RS geometry. */
export function burstKey(uid: string, version: SbxVersion, d: number, p: number): string {
  return `${uid}/${version}/${d}/${p}`;
}

export interface BurstQuery {
  index: BlockIndex;
  cache: SectorCache;
  uid: string;
  upToId: number;
  ref: IndexedBlock;
  rs: { d: number; p: number; fsz?: number };
  /** The level settled before, if any: taken as it is. */
  settled?: number;
  /** When the index holds fewer blocks than blkar looks at: read the positions after the reference block. */
  probe: boolean;
}

export async function burstLevelOf(q: BurstQuery): Promise<BurstLevel> {
  if (q.settled !== undefined) return { burst: q.settled, evidence: 'settled', probed: [] };
  const { index, uid, upToId, ref } = q;
  const { d, p, fsz } = q.rs;
  const sample: PlacedBlock[] = [...index.metadataBlocks(uid, upToId).filter((b) => b.version === ref.version), ...index.firstDataBlocks(uid, ref.version, upToId, GUESS_SAMPLE)];
  const found = sample.filter((b) => b.seq >= 1).length;
  const seqs = fsz === undefined ? Infinity : new Layout({ version: ref.version, d, p, burst: 0 }).lastSeq(fsz);
  let complete = found >= Math.min(GUESS_SAMPLE, seqs);
  let probed: PlacedBlock[] = [];
  if (!complete && q.probe) ({ blocks: probed, complete } = await blocksAfter(q.cache, ref, uid, 1 + p + GUESS_SAMPLE + 1));
  const burst = guessBurstFromPositions(ref.version, d, p, [...sample, ...probed]);
  return { burst, evidence: complete ? 'complete' : 'partial', probed: probed.filter((b) => b.seq >= 1) };
}

/**
 * Valid blocks of `uid` among the `count` block positions from `ref` on, read through the cache past bad sectors;
 * complete when every one of those positions (up to the medium's end) could be read.
 */
async function blocksAfter(cache: SectorCache, ref: IndexedBlock, uid: string, count: number): Promise<{ blocks: PlacedBlock[]; complete: boolean }> {
  const bs = blockSizeOf(ref.version);
  const end = Math.min(cache.size, ref.offset + count * bs);
  const uidBytes = Buffer.from(uid, 'hex');
  const blocks: PlacedBlock[] = [];
  let complete = true;
  for (let at = ref.offset; at + bs <= end; ) {
    const want = Math.min(MAX_FETCH, end - at);
    const { data } = await cache.read(at, want, 'foreground');
    let k = 0;
    for (; (k + 1) * bs <= data.length; k++) {
      const b = data.subarray(k * bs, (k + 1) * bs);
      if (isValidBlock(b, { version: ref.version, uid: uidBytes })) blocks.push({ seq: b.readUInt32BE(12), offset: at + k * bs });
    }
    if (data.length < want) complete = false;
    at += (data.length < want ? k + 1 : k) * bs; // a short read: the block at the bad sector is skipped
  }
  return { blocks, complete };
}
