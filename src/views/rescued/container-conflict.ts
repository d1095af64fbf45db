// Two different containers of one UID on a medium (an old and a new encoding made with the same --uid, a stale copy
// next to an updated one): their metadata blocks differ, while the copies of one container's metadata are identical.
import type { SectorCache } from '../../cache/sector-cache';
import { isValidBlock } from '../../sbx/format/header';
import { blockSizeOf } from '../../sbx/format/specs';
import type { IndexedBlock } from './block-index';

/** Two metadata blocks of one UID and version whose bytes differ: two different containers share the UID. */
export interface ContainerConflict {
  offsets: [number, number];
}

/** The first metadata block of the reference block's version after it whose bytes differ from it (it is valid). */
export async function conflictingMetadata(
  cache: SectorCache,
  metas: readonly IndexedBlock[],
  ref: IndexedBlock,
  refBytes: Buffer,
): Promise<ContainerConflict | undefined> {
  for (const m of metas) {
    if (m.version !== ref.version || m.offset <= ref.offset) continue;
    const bytes = await readBlock(cache, m);
    if (bytes && !bytes.equals(refBytes)) return { offsets: [ref.offset, m.offset] };
  }
  return undefined;
}

/** An indexed block read again through the cache, when it still checks out. */
export async function readBlock(cache: SectorCache, b: IndexedBlock): Promise<Buffer | undefined> {
  const bs = blockSizeOf(b.version);
  const { data } = await cache.read(b.offset, bs, 'foreground');
  return data.length === bs && isValidBlock(data, { version: b.version, seq: b.seq }) ? data : undefined;
}
