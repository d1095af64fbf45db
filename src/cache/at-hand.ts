// Bytes the cache has in hand. fillAtHand: what a reader can be given at once, without waiting, the hot path of a
// /raw copy. A sequential reader's next bytes are usually a flight's published bytes (readahead's) or '+' sectors in
// the page cache; serving them without a promise per piece keeps a FUSE request close to the cost of a
// memory copy. readCachedOnly: '+' bytes from the cache alone, never the device (export, the SBX block scanner).
import type { SectorStore } from './sector-store';
import type { InflightRanges } from './single-flight';

/**
 * Fills target from medium byte `offset` (target[0] is byte `offset`) up to `end` with what is at hand: '+' runs
 * with nothing to check first (fixity) read now (SectorStore.readNow: memory, or a pread while the data file is
 * fast), and flights' published or written bytes (not after a failed fdatasync: see CachedDevice.fill). Returns the byte where it stopped (`end` when all was at hand).
 */
export function fillAtHand(store: SectorStore, inflight: InflightRanges, offset: number, end: number, target: Buffer): number {
  const ss = store.sectorSize;
  const map = store.map;
  let at = offset;
  while (at < end) {
    const s = Math.floor(at / ss);
    const run = map.runAt(s);
    if (run.status === '+') {
      const upTo = Math.min(end, (run.start + run.count) * ss);
      if (!store.fixity.servable(s, Math.ceil(upTo / ss)) || !store.readNow(target, at - offset, at, upTo - at)) return at;
      at = upTo;
      continue;
    }
    const flight = inflight.covering(s);
    if (flight?.data) {
      at += copyFrom(flight.data, flight.start * ss, at, Math.min(end, flight.end * ss), target, offset);
    } else if (flight?.written && !store.syncFailure) {
      const upTo = Math.min(end, flight.end * ss);
      if (!store.readNow(target, at - offset, at, upTo - at, false)) return at;
      at = upTo;
    } else {
      return at;
    }
  }
  return at;
}

/** Copies medium bytes [from, to) out of `src` (which holds the medium from byte srcAt) into target; returns to - from. */
export function copyFrom(src: Buffer, srcAt: number, from: number, to: number, target: Buffer, targetAt: number): number {
  src.copy(target, from - targetAt, from - srcAt, to - srcAt);
  return to - from;
}

/**
 * Bytes [offset, offset+length) from the cache alone into target[0, length), each chunk checked against its checksum
 * first (the export, the SBX block scanner); rejects if any of their sectors is not '+'.
 */
export async function readCachedOnly(store: SectorStore, offset: number, length: number, target: Buffer): Promise<void> {
  if (length > target.length) throw new RangeError(`a ${target.length}-byte buffer cannot hold ${length} bytes`);
  const s0 = Math.floor(offset / store.sectorSize);
  const s1 = Math.ceil((offset + length) / store.sectorSize);
  const notCached = () => {
    for (const r of store.map.runs(s0, s1 - s0)) if (r.status !== '+') throw new Error(`sector ${r.start} is not cached`);
  };
  notCached();
  await store.fixity.checkBeforeServe(s0, s1);
  notCached(); // a reader may have repaired (untried) some of them meanwhile
  await store.readCachedInto(target, 0, offset, length);
}
