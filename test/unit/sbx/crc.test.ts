import { expect } from 'chai';
import { crc16, CRC16_TABLE } from '../../../src/sbx/format/crc';
import { buildBlock } from '../../../src/sbx/format/header';

describe('sbx/crc16 (CRC-16/XMODEM seeded with the version)', () => {
  const check = Buffer.from('123456789');
  const table: [number, string, number][] = [
    [0x0000, '123456789', 0x31c3],
    [0x0001, '123456789', 0x7610],
    [0x0002, '123456789', 0xbe65],
    [0x0003, '123456789', 0xf9b6],
    [0x0011, '123456789', 0x4ba4],
    [0x0012, '123456789', 0x83d1],
    [0x0013, '123456789', 0xc402],
    [0xffff, 'a', 0x9d77],
    [0x1d0f, 'a', 0xb01b],
  ];
  for (const [init, input, crc] of table) {
    it(`init 0x${init.toString(16)} over "${input}" gives 0x${crc.toString(16)}`, () => {
      expect(crc16(Buffer.from(input), init)).to.equal(crc);
    });
  }

  it('table has the poly 0x1021 entries', () => {
    expect(CRC16_TABLE[1]).to.equal(0x1021);
    expect(CRC16_TABLE[0xff]).to.equal(0x1ef0);
  });

  it('the sliced loop equals the bitwise definition for every length 0..40 and any start', () => {
    const bitwise = (b: Uint8Array, init: number): number => {
      let c = init;
      for (const x of b) {
        c ^= x << 8;
        for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
      }
      return c;
    };
    const data = Buffer.from(Array.from({ length: 50 }, (_, i) => (i * 37 + 11) & 0xff));
    for (let start = 0; start < 5; start++) {
      for (let len = 0; len <= 40; len++) {
        expect(crc16(data, 0x11, start, start + len)).to.equal(bitwise(data.subarray(start, start + len), 0x11));
      }
    }
    expect(crc16(check, 0)).to.equal(bitwise(check, 0));
  });

  it("blkar's whole-block vectors: v1, UID 030303030303", () => {
    const uid = Buffer.alloc(6, 3);
    expect(buildBlock(1, uid, 0, Buffer.alloc(496, 0x1a)).subarray(4, 6).toString('hex')).to.equal('333b');
    expect(buildBlock(1, uid, 1, Buffer.alloc(496, 0)).subarray(4, 6).toString('hex')).to.equal('3f56');
  });
});
