import { expect } from 'chai';
import { buildEncodingMatrix, gfMul, gfPow, ReedSolomon } from '../../../src/sbx/format/reed-solomon';

/** Data shard i, byte j = (31·i + 7·j + 1) mod 256 — the pattern of sbx-format.md §7.2's crate vectors. */
function pattern(d: number, len: number): Uint8Array[] {
  return Array.from({ length: d }, (_, i) => Uint8Array.from({ length: len }, (_, j) => (31 * i + 7 * j + 1) % 256));
}
const hex = (a: Uint8Array): string => Buffer.from(a).toString('hex');

describe('sbx/reed-solomon (byte-identical to reed-solomon-erasure 4.0)', () => {
  it('GF(2^8) with poly 0x11D: 2^8 = 0x1D, known products, pow conventions', () => {
    expect(gfPow(2, 8)).to.equal(0x1d);
    expect(gfMul(0x80, 2)).to.equal(0x1d);
    expect(gfMul(3, 7)).to.equal(9);
    expect(gfPow(0, 0)).to.equal(1);
    expect(gfPow(0, 3)).to.equal(0);
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfPow(a, 254))).to.equal(1);
  });

  it('parity rows of the encoding matrix (D/P = 3/2, 2/2, 10/2, 1/P)', () => {
    expect(buildEncodingMatrix(3, 2).slice(3)).to.deep.equal([
      [1, 1, 1],
      [15, 8, 6],
    ]);
    expect(buildEncodingMatrix(2, 2).slice(2)).to.deep.equal([
      [3, 2],
      [2, 3],
    ]);
    expect(buildEncodingMatrix(10, 2).slice(10)).to.deep.equal([
      [129, 150, 175, 184, 210, 196, 254, 232, 3, 2],
      [150, 129, 184, 175, 196, 210, 232, 254, 2, 3],
    ]);
    expect(buildEncodingMatrix(1, 4).slice(1)).to.deep.equal([[1], [1], [1], [1]]);
  });

  it('the matrix is systematic (identity on top)', () => {
    const m = buildEncodingMatrix(5, 3);
    for (let r = 0; r < 5; r++) expect(m[r]).to.deep.equal([0, 1, 2, 3, 4].map((c) => (c === r ? 1 : 0)));
  });

  it("crate parity vectors: D=3 P=2, 8-byte shards", () => {
    const par = [new Uint8Array(8), new Uint8Array(8)];
    new ReedSolomon(3, 2).encodeParity(pattern(3, 8), par);
    expect(par.map(hex)).to.deep.equal(['1e696c777a050813', '90d48b8281b2959c']);
  });

  it("crate parity vectors: D=10 P=2, 16-byte shards", () => {
    const par = [new Uint8Array(16), new Uint8Array(16)];
    new ReedSolomon(10, 2).encodeParity(pattern(10, 16), par);
    expect(par.map(hex)).to.deep.equal(['0b174524e32a0ebca0f27dca46110a3b', '8cb464cec271ef8e41bf1c5d678264e4']);
  });

  it('encodeSets (word path and byte path) equals encodeParity set by set', () => {
    for (const [d, p, len] of [
      [10, 2, 496],
      [3, 2, 112],
      [4, 3, 13],
      [1, 2, 8],
    ]) {
      const rs = new ReedSolomon(d, p);
      const sets = 5;
      const data = Uint8Array.from({ length: sets * d * len + 3 }, (_, i) => (i * 131 + 7) & 0xff);
      for (const off of [0, 1]) {
        const parity = new Uint8Array(sets * p * len + 2);
        rs.encodeSets(data, parity, len, sets, off, off);
        for (let s = 0; s < sets; s++) {
          const shards = Array.from({ length: d }, (_, k) => data.subarray(off + (s * d + k) * len, off + (s * d + k + 1) * len));
          const exp = Array.from({ length: p }, () => new Uint8Array(len));
          rs.encodeParity(shards, exp);
          for (let j = 0; j < p; j++) expect(hex(parity.subarray(off + (s * p + j) * len, off + (s * p + j + 1) * len))).to.equal(hex(exp[j]));
        }
      }
    }
  });

  it('reconstructs any ≤ P missing shards (data and parity) and refuses more', () => {
    const d = 4;
    const p = 3;
    const rs = new ReedSolomon(d, p);
    const data = pattern(d, 32);
    const parity = Array.from({ length: p }, () => new Uint8Array(32));
    rs.encodeParity(data, parity);
    const all = [...data, ...parity];
    for (let mask = 0; mask < 1 << (d + p); mask++) {
      const missing = [...Array(d + p).keys()].filter((i) => mask & (1 << i));
      const shards: (Uint8Array | null)[] = all.map((s, i) => (missing.includes(i) ? null : Uint8Array.from(s)));
      const ok = rs.reconstruct(shards);
      expect(ok).to.equal(missing.length <= p);
      if (ok) for (let i = 0; i < d + p; i++) expect(hex(shards[i] as Uint8Array)).to.equal(hex(all[i]));
      else expect(shards.filter((s) => s === null).length).to.equal(missing.length);
    }
  });

  it('rejects impossible shard counts', () => {
    expect(() => new ReedSolomon(0, 1)).to.throw(RangeError);
    expect(() => new ReedSolomon(1, 0)).to.throw(RangeError);
    expect(() => new ReedSolomon(200, 57)).to.throw(RangeError);
    expect(() => new ReedSolomon(255, 1)).to.not.throw();
  });
});
