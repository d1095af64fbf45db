import { expect } from 'chai';
import { buildBlock, isBlankBlock, isValidBlock, parseHeader, parseUidHex, uidToHex, writeHeader } from '../../../src/sbx/format/header';

describe('sbx/header', () => {
  const uid = Buffer.from('0123456789ab', 'hex');

  it('builds a block whose header parses back (signature, version, CRC, UID, seq)', () => {
    const b = buildBlock(17, uid, 0xfffffffe, Buffer.from('hello'));
    expect(b.length).to.equal(512);
    expect(b.subarray(0, 4).toString('hex')).to.equal('53427811');
    const h = parseHeader(b);
    expect(h).to.not.equal(null);
    expect(h?.version).to.equal(17);
    expect(h?.uid.toString('hex')).to.equal('0123456789ab');
    expect(h?.seq).to.equal(0xfffffffe);
    expect(isValidBlock(b)).to.equal(true);
  });

  it('fills a short payload with 0x1A', () => {
    const b = buildBlock(2, uid, 1, Buffer.from([1, 2]));
    expect(b.length).to.equal(128);
    expect([...b.subarray(18)].every((x) => x === 0x1a)).to.equal(true);
  });

  it('rejects a payload longer than the data size', () => {
    expect(() => buildBlock(2, uid, 1, Buffer.alloc(113))).to.throw(RangeError);
  });

  it('parseHeader rejects a wrong signature, unknown versions and short input', () => {
    const b = buildBlock(1, uid, 1, Buffer.alloc(0));
    for (const v of [0, 4, 16, 20, 255]) {
      const c = Buffer.from(b);
      c[3] = v;
      expect(parseHeader(c), `version ${v}`).to.equal(null);
    }
    const lower = Buffer.from(b);
    lower[2] = 0x58; // "SBX" — the signature has a lowercase x
    expect(parseHeader(lower)).to.equal(null);
    expect(parseHeader(b.subarray(0, 15))).to.equal(null);
  });

  it('isValidBlock fails on any flipped bit in the covered bytes, a truncated block, or an expectation mismatch', () => {
    const b = buildBlock(1, uid, 7, Buffer.from('data'));
    for (const pos of [4, 5, 6, 11, 12, 15, 16, 300, 511]) {
      const c = Buffer.from(b);
      c[pos] ^= 0x01;
      expect(isValidBlock(c), `byte ${pos}`).to.equal(false);
    }
    expect(isValidBlock(b.subarray(0, 511))).to.equal(false);
    expect(isValidBlock(b, { version: 17 })).to.equal(false);
    expect(isValidBlock(b, { uid: Buffer.alloc(6) })).to.equal(false);
    expect(isValidBlock(b, { seq: 8 })).to.equal(false);
    expect(isValidBlock(b, { version: 1, uid, seq: 7 })).to.equal(true);
  });

  it('writeHeader works at an offset inside a larger buffer', () => {
    const buf = Buffer.alloc(1024, 0x1a);
    writeHeader(buf, 512, 1, uid, 3);
    expect(isValidBlock(buf, { seq: 3 }, 512)).to.equal(true);
    expect(buf.subarray(512, 528).equals(buildBlock(1, uid, 3, Buffer.alloc(0)).subarray(0, 16))).to.equal(true);
  });

  it('blank blocks are all zeros', () => {
    expect(isBlankBlock(Buffer.alloc(512))).to.equal(true);
    const b = Buffer.alloc(512);
    b[511] = 1;
    expect(isBlankBlock(b)).to.equal(false);
    expect(isValidBlock(Buffer.alloc(512))).to.equal(false);
  });

  it('UIDs print as 12 uppercase hex digits and parse only from exactly 12', () => {
    expect(uidToHex(uid)).to.equal('0123456789AB');
    expect(parseUidHex('0123456789ab')?.toString('hex')).to.equal('0123456789ab');
    expect(parseUidHex('0123456789a')).to.equal(null);
    expect(parseUidHex('0123456789abc')).to.equal(null);
    expect(parseUidHex('0123456789ag')).to.equal(null);
  });
});
