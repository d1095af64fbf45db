// The sectors a layout may have missed (unread or bad when TSK ran, outside the files' data) and whether any is
// read since; and the live report reading its layout again once one is, but not otherwise.
import { expect } from 'chai';
import type { Extent } from '../../../src/cache/extent-map';
import { LiveFileReport } from '../../../src/files/live-report';
import type { MediumLayout } from '../../../src/files/layout';
import { anyRescued, gapsOutsideFileData } from '../../../src/files/layout-gaps';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

const SS = 512;
const ext = (start: number, count: number, status: Extent['status']): Extent => ({ start, count, status });

const oneFile: MediumLayout = {
  filesystems: [{ offset: 0, type: 'fat12', blockSize: 512, size: 16 * SS }],
  free: [[]],
  problems: [],
  entries: [{ fs: 0, path: '/a.bin', kind: 'file', size: 1024, runs: [4 * SS, 2 * SS] }],
};

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
}

describe('files: sectors a layout may have missed', () => {
  afterEach(closeMemoryCaches);

  it('are the unread and bad ranges less the files\' data, and count as read once any byte of them is +', () => {
    const atLayout = [ext(0, 2, '+'), ext(2, 6, '?'), ext(8, 2, '-'), ext(10, 6, '+')];
    const gaps = gapsOutsideFileData(atLayout, SS, oneFile);
    expect(gaps).to.deep.equal([
      [2 * SS, 4 * SS],
      [6 * SS, 10 * SS],
    ]);
    expect(gapsOutsideFileData(atLayout, SS, undefined)).to.deep.equal([[2 * SS, 10 * SS]]);
    // the file's data read: not what TSK missed
    expect(anyRescued(gaps, [ext(0, 2, '+'), ext(2, 2, '?'), ext(4, 2, '+'), ext(6, 2, '?'), ext(8, 2, '-'), ext(10, 6, '+')], SS)).to.equal(false);
    expect(anyRescued(gaps, [ext(0, 2, '+'), ext(2, 6, '?'), ext(8, 1, '+'), ext(9, 1, '-'), ext(10, 6, '+')], SS)).to.equal(true);
  });

  it('a layout that failed is read again once a sector unread when it ran is read; a complete one is not', async () => {
    const mem = await memoryCache(Buffer.alloc(16 * SS));
    let reads = 0;
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => {
      if (++reads === 1) throw new Error('Cannot determine file system type (a passing server error)');
      return oneFile;
    });
    await live.ensureLayout();
    expect(live.status().files).to.deep.equal({ layout: 'failed' });
    await mem.cache.read(0, SS);
    await mem.cache.commitPending();
    live.status();
    await until(() => reads === 2 && live.status().files.layout === 'ready');
    expect(live.status().files).to.include({ layout: 'ready', files: 1 });
    await mem.cache.read(SS, 15 * SS); // everything else: the layout was complete, nothing to read again for
    await mem.cache.commitPending();
    live.status();
    await new Promise((r) => setTimeout(r, 1500));
    live.status();
    expect(reads).to.equal(2);
  });
});
