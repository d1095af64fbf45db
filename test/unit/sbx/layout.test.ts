import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { Layout, LayoutParamError } from '../../../src/sbx/format/layout';
import { VECTORS_DIR } from './vectors';

describe('sbx/layout', () => {
  it('D=3 P=2 B=4: seq at every index 0..42 (blkar unit test table, §7.4)', () => {
    const l = new Layout({ version: 17, d: 3, p: 2, burst: 4 });
    const expected = [
      0, 1, 6, 11, 16, 0, 2, 7, 12, 17, 0, 3, 8, 13, 18, 4, 9, 14, 19, 5, 10, 15, 20, 21, 26, 31, 36, 22, 27, 32, 37, 23, 28, 33, 38, 24, 29, 34, 39, 25,
      30, 35, 40,
    ];
    expect(expected.map((_, i) => l.indexToSeq(i))).to.deep.equal(expected);
    for (let i = 0; i < expected.length; i++) if (expected[i] !== 0) expect(l.seqToIndex(expected[i])).to.equal(i);
  });

  it('defaults 10/2/12: seq at indices 0..59 (§7.4)', () => {
    const l = new Layout({ version: 17, d: 10, p: 2, burst: 12 });
    const expected = [
      0, 1, 13, 25, 37, 49, 61, 73, 85, 97, 109, 121, 133, 0, 2, 14, 26, 38, 50, 62, 74, 86, 98, 110, 122, 134, 0, 3, 15, 27, 39, 51, 63, 75, 87, 99, 111,
      123, 135, 4, 16, 28, 40, 52, 64, 76, 88, 100, 112, 124, 136, 5, 17, 29, 41, 53, 65, 77, 89, 101,
    ];
    expect(expected.map((_, i) => l.indexToSeq(i))).to.deep.equal(expected);
  });

  it('metadata copies at 0 and j·(1+B) (blkar tests: P=2 B=4 → 5,10; P=1 B=2 → 3; P=2 B=11 → 12,24; B=0 → 0..P)', () => {
    expect(new Layout({ version: 17, d: 3, p: 2, burst: 4 }).metadataIndices()).to.deep.equal([0, 5, 10]);
    expect(new Layout({ version: 17, d: 3, p: 1, burst: 2 }).metadataIndices()).to.deep.equal([0, 3]);
    expect(new Layout({ version: 18, d: 3, p: 2, burst: 11 }).metadataIndices()).to.deep.equal([0, 12, 24]);
    expect(new Layout({ version: 19, d: 3, p: 3, burst: 0 }).metadataIndices()).to.deep.equal([0, 1, 2, 3]);
    expect(new Layout({ version: 1 }).metadataIndices()).to.deep.equal([0]);
    expect(new Layout({ version: 1, metaEnabled: false }).metadataIndices()).to.deep.equal([]);
  });

  it('seqToIndex and indexToSeq are inverse for a spread of D, P, B', () => {
    for (const [d, p, b] of [
      [1, 1, 0],
      [1, 1, 1],
      [3, 2, 4],
      [10, 2, 12],
      [7, 3, 5],
      [200, 56, 3],
    ]) {
      const l = new Layout({ version: 18, d, p, burst: b });
      const seen = new Set<number>();
      for (let seq = 1; seq <= 3 * (d + p) * Math.max(1, b) + 5; seq++) {
        const idx = l.seqToIndex(seq);
        expect(l.indexToSeq(idx), `${d}/${p}/${b} seq ${seq}`).to.equal(seq);
        expect(l.isMetadataIndex(idx)).to.equal(false);
        expect(seen.has(idx)).to.equal(false);
        seen.add(idx);
      }
    }
  });

  it('lowestIndexFrom(seq) is at most the index of seq and of every later seq, and tight at each burst group', () => {
    const layouts = [
      new Layout({ version: 1 }),
      new Layout({ version: 2, metaEnabled: false }),
      ...[[3, 2, 4], [10, 2, 12], [4, 2, 0], [1, 1, 1], [5, 3, 7]].map(([d, p, burst]) => new Layout({ version: 17, d, p, burst })),
    ];
    for (const l of layouts) {
      const seqs = Array.from({ length: 600 }, (_, i) => i + 1);
      const index = seqs.map((q) => l.seqToIndex(q));
      for (let i = 0; i < seqs.length; i++) {
        const atOrAfter = Math.min(...index.slice(i));
        expect(l.lowestIndexFrom(seqs[i]), `${l.version}/${l.d}/${l.p}/${l.burst} seq ${seqs[i]}`).to.be.at.most(atOrAfter);
      }
      expect(l.lowestIndexFrom(1)).to.equal(Math.min(...index));
    }
  });

  it('parity seqs and data chunk numbers (blkar test, D=3 P=2)', () => {
    const l = new Layout({ version: 17, d: 3, p: 2, burst: 0 });
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13].map((s) => l.chunkIndexOfSeq(s))).to.deep.equal([0, 1, 2, null, null, 3, 4, 5, null, null, 6, 7, 8]);
    expect([4, 5, 9, 10].every((s) => l.isParitySeq(s))).to.equal(true);
    expect([0, 1, 3, 6].some((s) => l.isParitySeq(s))).to.equal(false);
    for (let k = 0; k < 20; k++) expect(l.chunkIndexOfSeq(l.seqOfChunk(k))).to.equal(k);
  });

  it('SBX layouts: seq = index with metadata, index + 1 without', () => {
    const m = new Layout({ version: 2 });
    const n = new Layout({ version: 2, metaEnabled: false });
    expect([m.seqToIndex(5), m.indexToSeq(5), n.seqToIndex(5), n.indexToSeq(5)]).to.deep.equal([5, 5, 4, 6]);
  });

  it('container sizes (§10.3): 10/2/12 and 10/2/0 on v17', () => {
    const b12 = new Layout({ version: 17, d: 10, p: 2, burst: 12 });
    const b0 = new Layout({ version: 17, d: 10, p: 2, burst: 0 });
    expect([0, 1, 1000, 4960, 4961, 1000000].map((s) => b12.containerSize(s))).to.deep.equal([13824, 69632, 69632, 69632, 70144, 1253888]);
    expect([0, 1000, 4961, 1000000].map((s) => b0.containerSize(s))).to.deep.equal([1536, 7680, 13824, 1242624]);
  });

  it('SBX sizes, e.g. v1 1000 bytes = 4 blocks; no-meta 3000 bytes = 7 blocks', () => {
    expect(new Layout({ version: 1 }).containerSize(1000)).to.equal(2048);
    expect(new Layout({ version: 1 }).containerSize(0)).to.equal(512);
    expect(new Layout({ version: 1, metaEnabled: false }).containerSize(3000)).to.equal(3584);
    expect(new Layout({ version: 3 }).containerSize(8160)).to.equal(12288);
  });

  it('container sizes agree with the largest index actually used, for many sizes', () => {
    for (const [d, p, b] of [
      [3, 2, 4],
      [10, 2, 12],
      [2, 1, 1],
    ]) {
      const l = new Layout({ version: 18, d, p, burst: b });
      for (let size = 0; size < 112 * d * b * 3; size += 37) {
        let max = l.metadataIndices().reduce((a, c) => Math.max(a, c), 0);
        for (let seq = 1; seq <= l.lastSeq(size); seq++) max = Math.max(max, l.seqToIndex(seq));
        expect(l.containerBlockCount(size), `${d}/${p}/${b} size ${size}`).to.equal(max + 1);
      }
    }
  });

  it('calc matches blkar JSON: 1000000 bytes at 17/10/2/12 and 18/4/2/3', () => {
    for (const [file, params] of [
      ['calc-1000000.json', { version: 17 as const, d: 10, p: 2, burst: 12 }],
      ['calc-1000000-v18.json', { version: 18 as const, d: 4, p: 2, burst: 3 }],
    ] as const) {
      const s = JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, 'json', file), 'utf8')).stats;
      const c = new Layout(params).calc(1000000);
      expect([c.version, c.blockSize, c.dataSize, c.metadataBlockCount, c.dataOnlyBlockCount, c.dataParityBlockCount, c.totalBlockCount]).to.deep.equal([
        s.sbxContainerVersion,
        s.sbxContainerBlockSize,
        s.sbxContainerDataSize,
        s.metadataBlockCount,
        s.dataOnlyBlockCount,
        s.dataParityBlockCount,
        s.totalBlockCount,
      ]);
      expect([c.rsDataShardCount, c.rsParityShardCount, c.burstErrorResistanceLevel, c.fileSize, c.containerSize]).to.deep.equal([
        s.rsDataShardCount,
        s.rsParityShardCount,
        s.burstErrorResistanceLevel,
        s.fileSize,
        s.sbxContainerSize,
      ]);
    }
  });

  it('block kinds of the §12.3 container (1000 bytes, 10/2/12)', () => {
    const l = new Layout({ version: 17, d: 10, p: 2, burst: 12 });
    const kinds = Array.from({ length: 137 }, (_, i) => l.kindOfIndex(i, 1000));
    expect(kinds.filter((k) => k === 'metadata').length).to.equal(3);
    expect([1, 14, 27].map((i) => kinds[i])).to.deep.equal(['data', 'data', 'data']);
    expect([39, 51, 63, 75, 87, 99, 111].every((i) => kinds[i] === 'padding')).to.equal(true);
    expect([kinds[123], kinds[135], kinds[2], kinds[136]]).to.deep.equal(['parity', 'parity', 'hole', 'outside']);
    expect(kinds.filter((k) => k === 'hole').length).to.equal(121);
  });

  it('maximum file sizes (§6, §7.1)', () => {
    expect(new Layout({ version: 1 }).maxFileSize()).to.equal(2130303778320);
    expect(new Layout({ version: 2 }).maxFileSize()).to.equal(481036337040);
    expect(new Layout({ version: 3 }).maxFileSize()).to.equal(17523466563600);
    expect(new Layout({ version: 17, d: 10, p: 2 }).maxFileSize()).to.equal(1775253147360);
  });

  it('rejects impossible RS parameters', () => {
    expect(() => new Layout({ version: 17, d: 0, p: 2 })).to.throw(LayoutParamError);
    expect(() => new Layout({ version: 17, d: 10 })).to.throw(LayoutParamError);
    expect(() => new Layout({ version: 17, d: 200, p: 57 })).to.throw(LayoutParamError);
    expect(() => new Layout({ version: 17, d: 2, p: 2, burst: -1 })).to.throw(LayoutParamError);
  });
});
