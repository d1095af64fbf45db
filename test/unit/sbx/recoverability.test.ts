import { expect } from 'chai';
import { Layout } from '../../../src/sbx/format/layout';
import { recoverability } from '../../../src/sbx/format/recoverability';

describe('recoverability (what the blocks found can still give)', () => {
  it('v1: every missing data seq is a lost chunk, adjacent ones merged into one byte range', () => {
    const l = new Layout({ version: 1, metaEnabled: true }); // 496-byte chunks
    const fsz = 5 * 496 + 100; // 6 chunks, seqs 1..6
    const r = recoverability(l, fsz, [1, 4, 5]);
    expect(r).to.deep.equal({ dataChunksRepaired: 0, dataChunksUnrecoverable: 3, unreadableRanges: [[496, 3 * 496], [5 * 496, fsz]] });
  });

  it('v17 D=3 P=1: a set missing one block is repaired, a set missing two is lost, a set never seen is lost', () => {
    const l = new Layout({ version: 17, d: 3, p: 1, burst: 0, metaEnabled: true }); // sets of 4 seqs, 3 data chunks
    const ds = l.dataSize;
    const fsz = 9 * ds; // 9 chunks = 3 sets: seqs 1-4, 5-8, 9-12
    // set 0: seq 2 missing (3 of 4 present) → repaired; set 1: only seqs 5 and 8 → chunks 4 and 5 lost; set 2: nothing.
    const r = recoverability(l, fsz, [1, 3, 4, 5, 8]);
    expect(r.dataChunksRepaired).to.equal(1);
    expect(r.dataChunksUnrecoverable).to.equal(2 + 3);
    expect(r.unreadableRanges).to.deep.equal([[4 * ds, 9 * ds]]);
  });

  it("v17: the last set's padding blocks count as known shards", () => {
    const l = new Layout({ version: 17, d: 3, p: 1, burst: 0, metaEnabled: true });
    const ds = l.dataSize;
    // 1 chunk: set 0 = chunk 0, two padding blocks, one parity. Only the parity (seq 4) was found: 1 + 2 padding = D.
    const r = recoverability(l, 10, [4]);
    expect(r).to.deep.equal({ dataChunksRepaired: 1, dataChunksUnrecoverable: 0, unreadableRanges: [] });
    expect(recoverability(l, 10, [])).to.deep.equal({ dataChunksRepaired: 0, dataChunksUnrecoverable: 1, unreadableRanges: [[0, 10]] });
    expect(ds).to.equal(496);
  });
});
