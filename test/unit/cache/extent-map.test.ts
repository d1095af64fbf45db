import { expect } from 'chai';
import { SectorMap, SectorStatus, SECTOR_STATUSES } from '../../../src/cache/extent-map';
import { seededInts } from '../../helpers/seeded-random';

/** Expands a map to one status per sector (the obvious reference model). */
function flat(map: SectorMap): string {
  return map
    .extents()
    .map((e) => e.status.repeat(e.count))
    .join('');
}

describe('cache/extent-map SectorMap', () => {
  it('starts as one non-tried run and splits on set', () => {
    const m = new SectorMap(100);
    expect(m.extents()).to.deep.equal([{ start: 0, count: 100, status: '?' }]);
    m.set(10, 5, '+');
    expect(m.extents().map((e) => [e.start, e.count, e.status])).to.deep.equal([
      [0, 10, '?'],
      [10, 5, '+'],
      [15, 85, '?'],
    ]);
  });

  it('merges equal neighbours so runs stay maximal', () => {
    const m = new SectorMap(30);
    m.set(0, 10, '+');
    m.set(20, 10, '+');
    m.set(10, 10, '+');
    expect(m.runCount).to.equal(1);
    m.set(5, 1, '?');
    m.set(5, 1, '+');
    expect(m.runCount).to.equal(1);
  });

  it('keeps totals per status', () => {
    const m = new SectorMap(100);
    m.set(0, 40, '+');
    m.set(30, 20, '-');
    m.set(45, 1, '/');
    expect(m.totals()).to.deep.equal({ '?': 50, '*': 0, '/': 1, '-': 19, '+': 30 });
  });

  it('clips runs() to the asked range and finds the next run of a status', () => {
    const m = new SectorMap(100);
    m.set(10, 10, '+');
    expect(m.runs(15, 10)).to.deep.equal([
      { start: 15, count: 5, status: '+' },
      { start: 20, count: 5, status: '?' },
    ]);
    expect(m.findNext(0, (s) => s === '+')).to.equal(10);
    expect(m.findNext(12, (s) => s === '+')).to.equal(12);
    expect(m.findNext(20, (s) => s === '+')).to.equal(undefined);
  });

  it('rejects ranges outside the medium', () => {
    const m = new SectorMap(10);
    expect(() => m.set(5, 6, '+')).to.throw(RangeError);
    expect(() => m.statusAt(10)).to.throw(RangeError);
  });

  it('extents() is an immutable snapshot', () => {
    const m = new SectorMap(10);
    const snap = m.extents();
    m.set(0, 5, '+');
    expect(snap).to.deep.equal([{ start: 0, count: 10, status: '?' }]);
    expect(Object.isFrozen(snap)).to.equal(true);
  });

  it('agrees with a per-sector model over 20,000 random updates', () => {
    const rnd = seededInts(12345);
    const n = 300;
    const m = new SectorMap(n);
    const model: SectorStatus[] = new Array(n).fill('?');
    for (let k = 0; k < 20000; k++) {
      const start = rnd(n);
      const count = 1 + rnd(Math.min(40, n - start));
      const st = SECTOR_STATUSES[rnd(5)];
      m.set(start, count, st);
      for (let s = start; s < start + count; s++) model[s] = st;
      if (k % 500 === 0) {
        expect(flat(m)).to.equal(model.join(''));
        const ext = m.extents();
        for (let i = 1; i < ext.length; i++) expect(ext[i].status).to.not.equal(ext[i - 1].status);
      }
    }
    expect(flat(m)).to.equal(model.join(''));
    const totals = m.totals();
    for (const st of SECTOR_STATUSES) expect(totals[st]).to.equal(model.filter((x) => x === st).length);
    expect(flat(SectorMap.fromRuns(n, m.extents()))).to.equal(model.join(''));
  });

  it('stays exact with tens of thousands of runs (spread over many internal chunks)', () => {
    const rnd = seededInts(99);
    const n = 60000;
    const m = new SectorMap(n);
    const model: SectorStatus[] = new Array(n).fill('?');
    for (let k = 0; k < 40000; k++) {
      const start = rnd(n);
      // mostly tiny updates (many runs), sometimes wide ones that span several chunks
      const count = 1 + (k % 4000 === 0 ? rnd(Math.min(8000, n - start)) : rnd(Math.min(4, n - start)));
      const st = SECTOR_STATUSES[rnd(5)];
      m.set(start, count, st);
      for (let s = start; s < start + count; s++) model[s] = st;
      if (k % 5000 === 0) {
        expect(flat(m)).to.equal(model.join(''));
        const p = rnd(n);
        const r = m.runAt(p);
        expect(r.start <= p && p < r.start + r.count && r.status === model[p]).to.equal(true);
      }
    }
    expect(m.runCount).to.be.greaterThan(3 * 1024); // several chunks of 1024
    expect(flat(m)).to.equal(model.join(''));
    expect(m.runCount).to.equal(m.extents().length);
    expect(flat(SectorMap.fromRuns(n, m.extents()))).to.equal(model.join(''));
  });

  it('fromRuns rejects runs that do not tile the medium', () => {
    expect(() => SectorMap.fromRuns(10, [{ start: 0, count: 5, status: '+' }])).to.throw(/end at 5/);
    expect(() =>
      SectorMap.fromRuns(10, [
        { start: 0, count: 5, status: '+' },
        { start: 6, count: 4, status: '?' },
      ]),
    ).to.throw(/tile/);
  });
});
