// The live report over a sector map that changes: joined again on each look, and the layout read again once a
// directory that was unreadable when it was made has been rescued (e.g. by a retry pass).
import { expect } from 'chai';
import { Extent, SectorMap } from '../../../src/cache/extent-map';
import { FilesCache, LiveFileReport } from '../../../src/files/live-report';
import type { MediumLayout } from '../../../src/files/layout';

const SS = 512;

/** The part of the sector cache the report uses, over a real SectorMap (reads answer from the map). */
class MapCache implements FilesCache {
  readonly size = 64 * SS;
  readonly sectorSize = SS;
  readonly reads: [number, number][] = [];
  constructor(readonly map: SectorMap) {}
  extents(): readonly Extent[] {
    return this.map.extents();
  }
  async read(offset: number, length: number): Promise<{ data: Buffer; errorAt?: number }> {
    this.reads.push([offset, length]);
    const first = offset / SS;
    for (let s = first; s < (offset + length) / SS; s++) {
      if (this.map.statusAt(s) === '-') return { data: Buffer.alloc((s - first) * SS), errorAt: s * SS };
      this.map.set(s, 1, '+');
    }
    return { data: Buffer.alloc(length) };
  }
}

function layout(withChild: boolean): MediumLayout {
  return {
    filesystems: [{ offset: 0, type: 'ext4', blockSize: 1024 }],
    problems: [],
    entries: [
      { fs: 0, path: '/', kind: 'directory', size: 512, runs: [0, 512] },
      { fs: 0, path: '/dir', kind: 'directory', size: 512, runs: [512, 512] },
      { fs: 0, path: '/top.bin', kind: 'file', size: 2048, runs: [4096, 2048] },
      ...(withChild ? [{ fs: 0, path: '/dir/child.bin', kind: 'file' as const, size: 1024, runs: [8192, 1024] }] : []),
    ],
  };
}

describe('files: LiveFileReport', () => {
  it('follows the sector map, and reads the layout again once an unreadable directory is rescued', async () => {
    const map = new SectorMap(64, '?');
    map.set(0, 1, '+');
    map.set(1, 1, '-');
    const cache = new MapCache(map);
    let layoutReads = 0;
    const live = new LiveFileReport(cache, '/nowhere/raw', () => {}, async () => layout(++layoutReads > 1));
    expect(live.status().files).to.deep.equal({ layout: 'not read' });
    const first = await live.json();
    expect(first.summary).to.include({ files: 1, incomplete: 1, unreadableDirectories: 1 });
    map.set(8, 4, '+');
    expect(live.snapshot().entries.find((e) => e.path === '/top.bin')).to.include({ verdict: 'intact' });
    expect(layoutReads).to.equal(1);
    map.set(1, 1, '+'); // a retry rescued /dir's entries
    live.snapshot();
    await new Promise((r) => setImmediate(r));
    expect(layoutReads).to.equal(2);
    expect(live.snapshot().entries.map((e) => e.path)).to.include('/dir/child.bin');
    expect(live.status().files).to.include({ layout: 'ready', files: 2, intact: 1, incomplete: 1 });
  });

  it('readFilesFirst reads every sector of the matching files, going on past a bad one', async () => {
    const map = new SectorMap(64, '?');
    map.set(9, 1, '-');
    const cache = new MapCache(map);
    const live = new LiveFileReport(cache, '/nowhere/raw', () => {}, async () => layout(true));
    expect(await live.readFilesFirst(['/*.bin'])).to.equal(1);
    expect(map.runs(8, 4).map((r) => [r.start, r.count, r.status])).to.deep.equal([
      [8, 1, '+'],
      [9, 1, '-'],
      [10, 2, '+'],
    ]);
    expect(map.statusAt(16)).to.equal('?'); // /dir/child.bin was not asked for
  });
});
