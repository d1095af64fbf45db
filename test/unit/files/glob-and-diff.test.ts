// Choosing files by pattern (acquire --files) and finding what changed between two sector-map snapshots.
import { expect } from 'chai';
import { SectorMap } from '../../../src/cache/extent-map';
import { changedRanges } from '../../../src/files/damage-source';
import { fileGlobProblem, fileMatcher } from '../../../src/files/glob';

describe('files: glob patterns for acquire --files', () => {
  it('a pattern that can match nothing on any medium is named as such (acquire --files refuses it, exit 1)', () => {
    expect(fileGlobProblem('0:/**')).to.equal('filesystems are numbered from 1 (as blkfs files lists them), not 0');
    expect(fileGlobProblem('')).to.equal('the pattern is empty');
    expect(fileGlobProblem('2:')).to.equal('the pattern is empty');
    expect([fileGlobProblem('1:/DCIM/**'), fileGlobProblem('*.txt'), fileGlobProblem('12:x')]).to.deep.equal([undefined, undefined, undefined]);
  });

  it('** spans directories, * and ? stay in one name, N: picks a filesystem, a bare pattern starts at the root', () => {
    const m = fileMatcher(['/DCIM/**', '*.txt', '2:/docs/?.bin']);
    expect(m.matches(0, '/DCIM/100CANON/IMG_0001.JPG')).to.equal(true);
    expect(m.matches(0, '/DCIM')).to.equal(false);
    expect(m.matches(0, '/readme.txt')).to.equal(true);
    expect(m.matches(0, '/sub/readme.txt')).to.equal(false);
    expect(m.matches(1, '/docs/a.bin')).to.equal(true);
    expect(m.matches(0, '/docs/a.bin')).to.equal(false);
    expect(m.matches(1, '/docs/ab.bin')).to.equal(false);
    expect(fileMatcher(['/a/**/x.c']).matches(0, '/a/x.c')).to.equal(true);
    expect(fileMatcher(['/a/**/x.c']).matches(0, '/a/b/c/x.c')).to.equal(true);
    expect(fileMatcher(['/a+b (1).txt']).matches(0, '/a+b (1).txt')).to.equal(true);
  });
});

describe('files: changedRanges between sector-map snapshots', () => {
  it('gives exactly the byte ranges whose status changed, merged when adjacent', () => {
    const map = new SectorMap(100, '?');
    map.set(10, 10, '+');
    const before = map.extents();
    map.set(15, 10, '+'); // 20..25 changes
    map.set(50, 2, '-'); // 50..52 changes
    map.set(52, 3, '+'); // 52..55 changes, adjacent
    map.set(0, 1, '?'); // no change
    expect(changedRanges(before, map.extents(), 512)).to.deep.equal([
      { start: 20 * 512, end: 25 * 512 },
      { start: 50 * 512, end: 55 * 512 },
    ]);
    expect(changedRanges(map.extents(), map.extents(), 512)).to.deep.equal([]);
  });
});
