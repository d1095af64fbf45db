// The join of file runs with the sector map, on a hand-made layout: counts per file, verdicts, "unknown"
// under a directory with missing bytes, and an incremental update equal to a full recompute.
import { expect } from 'chai';
import { SectorMap } from '../../../src/cache/extent-map';
import { MapfileDamage, SectorMapDamage } from '../../../src/files/damage-source';
import { FileReport } from '../../../src/files/file-report';
import type { MediumLayout } from '../../../src/files/layout';

const SECTOR = 512;

function layout(extra: MediumLayout['entries'] = []): MediumLayout {
  return {
    filesystems: [{ offset: 0, type: 'ext4', blockSize: 1024, size: 64 * 512 }],
    free: [[]],
    problems: [],
    entries: [
      { fs: 0, path: '/', kind: 'directory', size: 1024, runs: [0, 1024] },
      { fs: 0, path: '/dir', kind: 'directory', size: 1024, runs: [1024, 1024] },
      { fs: 0, path: '/dir/in.bin', kind: 'file', size: 3000, runs: [4096, 2048, 8192, 952] },
      { fs: 0, path: '/top.bin', kind: 'file', size: 1500, runs: [16384, 1500] },
      { fs: 0, path: '/empty', kind: 'file', size: 0, runs: [] },
      ...extra,
    ],
  };
}

describe('files: FileReport (join of runs and sector map)', () => {
  it('counts rescued, bad and untried bytes per file within its size, and judges each', () => {
    const map = new SectorMap(64, '+');
    map.set(9, 1, '-'); // in.bin's second half of its first run: bytes 4608..5120
    map.set(17, 1, '?'); // in.bin's second run: 8704..9144 of it
    map.set(34, 2, '-'); // top.bin's bytes 17408..17884 (its end), then slack
    const r = new FileReport(layout(), new SectorMapDamage(map, SECTOR, 64 * SECTOR));
    expect(r.entry(2)).to.include({ bad: 512, untried: 440, rescued: 3000 - 952, verdict: 'damaged' });
    expect(r.entry(3)).to.include({ bad: 1500 - 1024, untried: 0, verdict: 'damaged' });
    expect(r.entry(4)).to.include({ bad: 0, untried: 0, rescued: 0, verdict: 'intact' });
    expect(r.summary()).to.include({ files: 3, damaged: 2, intact: 1, badBytesOutsideFiles: 3 * SECTOR - 512 - 476 });
  });

  it("never calls a YAFFS2 file intact: TSK's places for its data leave out the flash spare areas (review)", () => {
    // tsk_loaddb writes a chunk at chunk x page size; it lies at chunk x (page + spare): the join would look elsewhere.
    const yaffs: MediumLayout = { ...layout(), filesystems: [{ offset: 0, type: 'YAFFS2', blockSize: 2048, size: 64 * 512 }] };
    const r = new FileReport(yaffs, new SectorMapDamage(new SectorMap(64, '+'), SECTOR, 64 * SECTOR));
    expect(r.entry(3)).to.include({ verdict: 'unknown' });
    expect(r.entry(3).reason).to.match(/YAFFS2/);
    expect(r.summary()).to.include({ intact: 0 });
  });

  it('calls everything under a directory with missing bytes unknown, and says which directory', () => {
    const map = new SectorMap(64, '+');
    map.set(2, 1, '-');
    const r = new FileReport(layout(), new SectorMapDamage(map, SECTOR, 64 * SECTOR));
    expect(r.entry(1)).to.include({ verdict: 'damaged', bad: 512 });
    expect(r.entry(2)).to.include({ verdict: 'unknown', bad: 0 });
    expect(r.entry(2).reason).to.contain('/dir');
    expect(r.entry(3).verdict).to.equal('intact');
    expect(r.summary()).to.include({ unknown: 1, unreadableDirectories: 1 });
  });

  it('an update after new reads gives the report a full join gives', () => {
    const map = new SectorMap(64, '?');
    const damage = new SectorMapDamage(map, SECTOR, 64 * SECTOR);
    // With a resident file: its data is in the structures, judged by them as they are read.
    const resident = [{ fs: 0, path: '/res', kind: 'file' as const, size: 100, runs: [] }];
    const live = new FileReport(layout(resident), damage);
    expect(live.summary()).to.include({ unknown: 4, intact: 0 }); // the root's own bytes are untried
    const steps: [number, number, '+' | '-'][] = [
      [0, 4, '+'],
      [8, 2, '+'],
      [16, 4, '-'],
      [32, 4, '+'],
      [10, 6, '+'],
    ];
    for (const [start, count, status] of steps) {
      map.set(start, count, status);
      live.update([{ start: start * SECTOR, end: (start + count) * SECTOR }]);
      const fresh = new FileReport(layout(resident), damage);
      expect(live.toJSON()).to.deep.equal(fresh.toJSON());
    }
    expect(live.entry(2)).to.include({ verdict: 'damaged', bad: 952 });
    map.set(0, 64, '+');
    live.update([{ start: 0, end: 64 * SECTOR }]);
    expect(live.entry(5)).to.include({ verdict: 'intact', rescued: 100 });
    expect(live.toJSON()).to.deep.equal(new FileReport(layout(resident), damage).toJSON());
  });

  it("a read of the filesystem's structures alone (no file's runs) updates the resident files judged by them", () => {
    const map = new SectorMap(64, '+');
    map.set(40, 1, '?'); // an inode-table sector: in no entry, not free
    const damage = new SectorMapDamage(map, SECTOR, 64 * SECTOR);
    const resident = [{ fs: 0, path: '/res', kind: 'file' as const, size: 100, runs: [] }];
    const live = new FileReport(layout(resident), damage);
    expect(live.entry(5)).to.include({ verdict: 'incomplete' });
    map.set(40, 1, '+');
    live.update([{ start: 40 * SECTOR, end: 41 * SECTOR }]);
    expect(live.entry(5)).to.include({ verdict: 'intact', rescued: 100 });
    expect(live.toJSON()).to.deep.equal(new FileReport(layout(resident), damage).toJSON());
  });

  it('hard links (two names, the same runs) count their bad bytes once: a bad structure sector is still reported', () => {
    const link = [{ fs: 0, path: '/link.bin', kind: 'file' as const, size: 1500, runs: [16384, 1500], slack: [17884, 548] }];
    const map = new SectorMap(64, '+');
    map.set(32, 1, '-'); // top.bin's and link.bin's data
    map.set(40, 1, '-'); // an inode-table sector: in no entry, not free
    const r = new FileReport(layout(link), new SectorMapDamage(map, SECTOR, 64 * SECTOR));
    expect(r.entry(3)).to.include({ verdict: 'damaged', bad: 512 });
    expect(r.entry(5)).to.include({ verdict: 'damaged', bad: 512 });
    expect(r.filesystemReports()[0]).to.include({ structureBad: 512 });
    expect(r.summary()).to.include({ badBytesOutsideFiles: 512 });
  });

  it('no filesystem found while the first sectors (partition table, boot sector, superblock) are missing: says so', () => {
    const none: MediumLayout = { filesystems: [], free: [], entries: [], problems: ['no filesystem The Sleuth Kit can read (UDF, for one, it cannot)'] };
    const bad = new FileReport(none, new MapfileDamage([{ pos: 0, size: 512, status: '-' }, { pos: 512, size: 1 << 20, status: '+' }], (1 << 20) + 512));
    expect(bad.toJSON().problems.join('\n')).to.match(/512 bytes of the first 64 KiB .* are bad or not read/);
    const fine = new FileReport(none, new MapfileDamage([{ pos: 0, size: 1 << 20, status: '+' }], 1 << 20));
    expect(fine.toJSON().problems).to.deep.equal(none.problems);
  });

  it('offline: bytes a mapfile does not cover are untried', () => {
    const r = new FileReport(layout(), new MapfileDamage([{ pos: 0, size: 16384, status: '+' }], 32768));
    expect(r.entry(3)).to.include({ verdict: 'incomplete', untried: 1500 });
    expect(r.entry(2)).to.include({ verdict: 'intact', rescued: 3000 });
  });

  it('a file whose runs go past the end of the medium is unknown, those bytes untried, offline and live alike', () => {
    const past = layout([{ fs: 0, path: '/past.bin', kind: 'file', size: 4000, runs: [30720, 4000] }]); // medium: 32768 bytes
    const offline = new FileReport(past, new MapfileDamage([{ pos: 0, size: 32768, status: '+' }], 32768));
    const map = new SectorMap(64, '+');
    const live = new FileReport(past, new SectorMapDamage(map, SECTOR, 32768));
    for (const r of [offline, live]) {
      expect(r.entry(5)).to.include({ verdict: 'unknown', rescued: 2048, untried: 1952, bad: 0 });
      expect(r.entry(5).reason).to.match(/^1952 of its bytes lie past the end of the medium \(32768 bytes\)/);
      expect(r.entry(3)).to.include({ verdict: 'intact' });
    }
  });
});
