// What `blkfs files IMAGE MAPFILE` lets The Sleuth Kit read: the mapfile's '+' blocks, and only those.
import { expect } from 'chai';
import type { MapBlock } from '../../../src/cache/mapfile';
import { rescuedRanges } from '../../../src/files/offline-report';

const b = (pos: number, size: number, status: MapBlock['status']): MapBlock => ({ pos, size, status });

describe('files/rescuedRanges', () => {
  const cases: [string, MapBlock[], number, [number, number][]][] = [
    ['all rescued: one range, the whole medium', [b(0, 4096, '+')], 4096, [[0, 4096]]],
    ['adjacent + blocks are one range', [b(0, 512, '+'), b(512, 512, '+'), b(1024, 512, '-')], 1536, [[0, 1024]]],
    ['every other status is left out', [b(0, 512, '?'), b(512, 512, '+'), b(1024, 512, '*'), b(1536, 512, '/'), b(2048, 512, '-'), b(2560, 512, '+')], 3072, [[512, 1024], [2560, 3072]]],
    ['a map starting past 0 leaves the start out', [b(1024, 1024, '+')], 2048, [[1024, 2048]]],
    ['no + at all: nothing', [b(0, 4096, '?')], 4096, []],
    ['clipped at the size of the medium', [b(0, 8192, '+')], 4096, [[0, 4096]]],
  ];
  for (const [name, blocks, size, want] of cases) {
    it(name, () => expect(rescuedRanges(blocks, size)).to.deep.equal(want));
  }
});
