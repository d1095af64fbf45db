// info.json of /rescued/<UID>/: what a user needs to judge a find. Its verdicts are about the medium as read so far,
// and say which is which: a byte range is unreadable only when no block can give it even if every sector not read
// yet turns out good; a range whose blocks lie in sectors not read yet is untried (reading the decoded file there
// reads them, each sector once). Computing it never reads the device.
import { createHasher, formatMultihash, isSupportedHashType } from '../../sbx/format/multihash';
import { recoverability } from '../../sbx/format/recoverability';
import type { RescuedContainer } from './rescued-container';
import { subtractRanges } from '../../cache/byte-ranges';

export interface RescuedInfo {
  json: object;
  /** Some of the decoded file waits on sectors not read yet: its verdicts may change without the index changing. */
  untriedBytes: number;
}

/** The union of two ascending lists of distinct numbers, ascending. */
function mergeAscending(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i] < b[j]) ? a[i++] : b[j++]);
  return out;
}

/** Hashes the decoded file when every byte of it can be had from the blocks at hand. */
export async function rescuedInfo(model: RescuedContainer): Promise<RescuedInfo> {
  const l = model.layout;
  const counts = model.index.counts(model.uid, model.version, model.upToId);
  const md = model.metadata;
  const base = {
    uid: model.uid,
    version: model.version,
    blockSize: model.blockSize,
    referenceBlock: { type: model.ref.kind === 'meta' ? 'metadata' : 'data', offset: model.ref.offset },
    metadata: md
      ? {
          fileName: md.fnm ?? null,
          containerName: md.snm ?? null,
          fileSize: md.fsz ?? null,
          fileModificationTime: md.fdt ?? null,
          containerCreationTime: md.sdt ?? null,
          hash: md.hsh ? formatMultihash(md.hsh) : null,
          rsDataShards: md.rsd ?? null,
          rsParityShards: md.rsp ?? null,
        }
      : null,
    burstErrorResistanceLevel: l?.ec ? l.burst : null,
    files: { container: l ? model.containerName() : null, decoded: model.decodedName() ?? null },
  };
  if (!l || model.fileSize === undefined) {
    return {
      json: {
        ...base,
        blocks: { foundMetadata: counts.meta.blocks, foundDataOrParity: counts.data.blocks + counts.parity.blocks },
        problem: model.conflict
          ? `two different containers with this UID are on the medium (metadata blocks at offsets ${model.conflict.offsets.join(' and ')} differ): ` +
            'neither is decoded or sorted, so no file mixes the blocks of both; copy each out of /raw and decode it alone'
          : 'no metadata block with the Reed-Solomon shard counts was found: the container cannot be laid out or decoded',
      },
      untriedBytes: 0,
    };
  }
  const size = model.fileSize;
  // Only seqs that were found are visited, so a damaged FSZ claiming a huge file costs no huge loop.
  // Seqs whose copies differ are never served (rescued-container.ts fetch): not found, and not looked for elsewhere.
  const disagreeing = await model.disagreeingSeqs();
  const excluded = new Set(disagreeing);
  const allIndexed = [...model.index.distinctSeqs(model.uid, model.version, 1, model.lastSeq, model.upToId)];
  const indexed = excluded.size === 0 ? allIndexed : allIndexed.filter((q) => !excluded.has(q));
  const more = await model.unindexedSeqs(allIndexed);
  const found = mergeAscending(indexed, more.found);
  const atHand = recoverability(l, size, found);
  const ifUntriedGood = recoverability(l, size, mergeAscending(found, more.untried));
  const unreadable = ifUntriedGood.unreadableRanges;
  const untriedRanges = subtractRanges(atHand.unreadableRanges, unreadable);
  const expectedMeta = model.metadataBlock || l.ec ? l.metaCount : 0;
  let hash: { recorded: string | null; computed: string | null; matches: boolean | null } = {
    recorded: md?.hsh ? formatMultihash(md.hsh) : null,
    computed: null,
    matches: null,
  };
  if (md?.hsh && isSupportedHashType(md.hsh.type) && atHand.unreadableRanges.length === 0) {
    const h = createHasher(md.hsh.type);
    for (let pos = 0; pos < size; pos += 4 << 20) {
      const r = await model.readDecoded(pos, 4 << 20);
      if (r.errorAt !== undefined) throw new Error(`decoded file unreadable at ${r.errorAt} although its blocks were counted`);
      h.update(r.data);
    }
    const computed = { type: md.hsh.type, digest: h.digest() };
    hash = { recorded: hash.recorded, computed: formatMultihash(computed), matches: computed.digest.equals(md.hsh.digest) };
  }
  const json = {
    ...base,
    blocks: {
      expected: expectedMeta + model.lastSeq,
      found: counts.meta.blocks + found.length,
      foundMetadata: counts.meta.blocks,
      foundData: counts.data.seqs,
      foundParity: counts.parity.seqs,
      // Blocks read in cached sectors the scan has not recorded yet (counted in found, not in foundData/foundParity).
      foundNotIndexedYet: more.found.length,
      duplicates: counts.data.blocks + counts.parity.blocks - counts.data.seqs - counts.parity.seqs,
      // Seqs found more than once in copies that differ (two containers share this UID): served from neither.
      copiesDisagree: disagreeing.length,
      untried: more.untried.length,
      missing: model.lastSeq - found.length - more.untried.length + Math.max(0, expectedMeta - counts.meta.blocks),
      dataChunksRepaired: atHand.dataChunksRepaired,
      dataChunksUnrecoverable: ifUntriedGood.dataChunksUnrecoverable,
    },
    decodedFile: {
      size,
      bytesReadable: size - atHand.unreadableRanges.reduce((n, [a, b]) => n + b - a, 0),
      unreadableRanges: unreadable,
      untriedRanges,
    },
    hash,
  };
  return { json, untriedBytes: untriedRanges.reduce((n, [a, b]) => n + b - a, 0) };
}
