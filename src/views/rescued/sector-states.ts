// The state of a byte range of the medium as the rescue left it, for the blocks of a container: whether each can be
// read from the cache now, is lost, or lies in sectors not read yet.
import type { Extent } from '../../cache/extent-map';
import type { SectorCache } from '../../cache/sector-cache';

export /** '+' when every sector of a range is cached, '-' when one is bad, else 'untried'; remembers the last run looked up. */
function sectorStates(cache: SectorCache): (offset: number, length: number) => '+' | '-' | 'untried' {
  const ss = cache.sectorSize;
  let last: Extent | undefined;
  return (offset, length) => {
    const end = Math.ceil((offset + length) / ss);
    let state: '+' | 'untried' = '+';
    for (let s = Math.floor(offset / ss); s < end; ) {
      const run = last && s >= last.start && s < last.start + last.count ? last : (last = cache.runAt(s));
      if (run.status === '-') return '-';
      if (run.status !== '+') state = 'untried';
      s = run.start + run.count;
    }
    return state;
  };
}
