// The live report on the production cache (CachedDevice over an in-memory medium): joined again on each look as
// reads land, the layout read again once a directory that was unreadable when it was made is rescued by a retry,
// and rescue by file. The layout is given (TSK itself is exercised on real mounts in test/integration/files).
import { expect } from 'chai';
import { LiveFileReport } from '../../../src/files/live-report';
import { TskStoppedError } from '../../../src/files/tsk-loaddb';
import type { MediumLayout } from '../../../src/files/layout';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

const SS = 512;

function layout(withChild: boolean): MediumLayout {
  return {
    filesystems: [{ offset: 0, type: 'ext4', blockSize: 1024, size: 64 * 512 }],
    free: [[]],
    problems: [],
    entries: [
      { fs: 0, path: '/', kind: 'directory', size: 512, runs: [0, 512] },
      { fs: 0, path: '/dir', kind: 'directory', size: 512, runs: [512, 512] },
      { fs: 0, path: '/top.bin', kind: 'file', size: 2048, runs: [4096, 2048] },
      ...(withChild ? [{ fs: 0, path: '/dir/child.bin', kind: 'file' as const, size: 1024, runs: [8192, 1024] }] : []),
    ],
  };
}

describe('files: LiveFileReport on the sector cache', () => {
  afterEach(closeMemoryCaches);

  it('follows reads as they land, and reads the layout again once an unreadable directory is rescued', async () => {
    const mem = await memoryCache(Buffer.alloc(64 * SS), { badSectors: [1], retries: 1 });
    let layoutReads = 0;
    // The layout reader stands in for TSK on /raw: like TSK it reads the directories through the cache.
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => {
      await mem.cache.read(0, 1024);
      return layout(++layoutReads > 1);
    });
    expect(live.status().files).to.deep.equal({ layout: 'not read' });
    const first = await live.json();
    expect(first.summary).to.include({ files: 1, incomplete: 1, unreadableDirectories: 1 });
    await mem.cache.read(4096, 2048);
    await mem.cache.commitPending(); // '+' once durable
    expect(live.snapshot().entries.find((e) => e.path === '/top.bin')).to.include({ verdict: 'intact', rescued: 2048 });
    expect(layoutReads).to.equal(1);
    mem.source.badSectors.delete(1); // the retry pass will read /dir's entries
    await mem.cache.acquire();
    live.snapshot();
    for (let i = 0; i < 20 && layoutReads < 2; i++) await new Promise((r) => setTimeout(r, 5));
    expect(layoutReads).to.equal(2);
    await new Promise((r) => setImmediate(r));
    expect(live.snapshot().entries.map((e) => e.path)).to.include('/dir/child.bin');
    expect(live.status().files).to.include({ layout: 'ready', filesystems: 1, files: 2, intact: 2, unreadableDirectories: 0 });
  });

  it('/status counts the filesystems read: 0 when TSK can read none (blkfs status says so)', async () => {
    const mem = await memoryCache(Buffer.alloc(64 * SS));
    const none: MediumLayout = { filesystems: [], free: [], problems: ['no filesystem The Sleuth Kit can read'], entries: [] };
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => none);
    await live.json();
    expect(live.status().files).to.include({ layout: 'ready', filesystems: 0, files: 0 });
  });

  it('readFilesFirst reads every sector of the matching files, going on past a bad one, and nothing else', async () => {
    const mem = await memoryCache(Buffer.alloc(64 * SS), { badSectors: [9] });
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async () => layout(true));
    expect(await live.readFilesFirst(['/*.bin'])).to.equal(1);
    await mem.cache.commitPending();
    const reads = mem.deviceReadsPerSector();
    expect(reads.slice(8, 12).every((n) => n >= 1)).to.equal(true);
    expect(reads.filter((n, s) => n > 0 && (s < 8 || s >= 12))).to.deep.equal([]);
    expect(mem.cache.runAt(9).status).to.equal('-');
    expect(live.snapshot().entries.find((e) => e.path === '/top.bin')).to.include({ verdict: 'damaged', bad: 512 });
  });

  /** A layout reader that runs until stopped the first time (TSK's first run, held up), and answers at once after. */
  function heldFirstRun(): { runs: () => number; read: (image: string, signal: AbortSignal) => Promise<MediumLayout> } {
    let runs = 0;
    return {
      runs: () => runs,
      read: (_image, signal) => {
        if (++runs > 1) return Promise.resolve(layout(true));
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new TskStoppedError()), { once: true }));
      },
    };
  }

  it("a look waiting for the metadata phase's layout read, when that phase is cut over its budget, gets the layout read then", async () => {
    const mem = await memoryCache(Buffer.alloc(64 * SS));
    const tsk = heldFirstRun();
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, tsk.read);
    void live.ensureLayout(); // the metadata phase
    const look = live.json(); // blkfs files, meanwhile
    expect(await live.stopLayoutRead()).to.equal(true); // the phase over its budget
    const report = await look;
    expect(tsk.runs()).to.equal(2);
    expect(report.problems).to.deep.equal([]);
    expect(report.entries.map((e) => e.path)).to.include('/dir/child.bin');
  });

  it('a look waiting when an unmount stops TSK does not start it again (the unmount waits for no TSK run)', async () => {
    const mem = await memoryCache(Buffer.alloc(64 * SS));
    const tsk = heldFirstRun();
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, tsk.read);
    const look = live.json();
    await new Promise((r) => setImmediate(r));
    await live.stopLayoutReader();
    expect((await look).problems).to.deep.equal(['the file layout is not read']);
    expect(tsk.runs()).to.equal(1);
  });
});
