import { expect } from 'chai';
import { DamagedRanges } from '../../../src/cache/damaged-ranges';

const range = (offset: number, length: number, reason = 'checksum') => ({ offset, length, reason });

describe('cache/damaged ranges, looked up by position', () => {
  it('among many ranges, a span touching the first or last byte of one finds it; the bytes just outside find none', () => {
    const d = new DamagedRanges<ReturnType<typeof range>>();
    // Set out of order, as a verify finds chunks stored this session after those loaded at open.
    for (const k of [...Array(5000).keys()].reverse()) d.set(range(1000 * k + 100, 50));
    for (const k of [0, 1, 2500, 4999]) {
      const [first, end] = [1000 * k + 100, 1000 * k + 150];
      expect(d.firstOverlapping(first, first + 1)?.offset, `first byte of range ${k}`).to.equal(first);
      expect(d.firstOverlapping(end - 1, end)?.offset, `last byte of range ${k}`).to.equal(first);
      expect(d.firstOverlapping(first - 1, first), `byte just before range ${k}`).to.equal(undefined);
      expect(d.firstOverlapping(end, end + 1), `byte just after range ${k}`).to.equal(undefined);
      expect(d.firstOverlapping(first - 900, end + 900)?.offset, `a span over range ${k} and beyond`).to.equal(first);
    }
    expect(d.values().map((r) => r.offset).slice(0, 3)).to.deep.equal([100, 1100, 2100]);
  });

  it('a long range is found past the shorter ones that start after it; one set again at its offset replaces it', () => {
    const d = new DamagedRanges<ReturnType<typeof range>>();
    d.set(range(0, 10_000, 'unrecorded'));
    d.set(range(100, 10));
    d.set(range(200, 10));
    expect(d.firstOverlapping(5000, 5001)?.reason).to.equal('unrecorded');
    d.set(range(0, 50, 'checksum'));
    expect(d.firstOverlapping(5000, 5001)).to.equal(undefined);
    expect(d.firstOverlapping(205, 206)?.offset).to.equal(200);
    expect(d.size).to.equal(3);
  });

  it('forgetting a span removes every range touching it and no other', () => {
    const d = new DamagedRanges<ReturnType<typeof range>>();
    for (const o of [0, 100, 200, 300]) d.set(range(o, 50));
    d.deleteOverlapping(149, 201);
    expect(d.values().map((r) => r.offset)).to.deep.equal([0, 300]);
    expect(d.firstOverlapping(0, 1000)?.offset).to.equal(0);
    expect(d.firstOverlapping(60, 1000)?.offset).to.equal(300);
  });
});
