// The cache's CRC-32 (fixity, image digests): zlib's numbers, from a faster implementation where one loads.
import { expect } from 'chai';
import * as zlib from 'zlib';
import { crc32, CRC32_IMPLEMENTATION } from '../../../src/cache/crc32';
import { patternBuffer } from '../../helpers/memory-source';

describe('cache/crc32', () => {
  it("gives zlib's CRC-32 for any length, alignment and continuation", () => {
    expect(crc32(Buffer.from('123456789'))).to.equal(0xcbf43926);
    const data = patternBuffer(3 * 1024 * 1024 + 7, 11);
    for (const [from, to] of [[0, 0], [0, 1], [3, 4099], [1, 1024 * 1024 + 3], [5, data.length]]) {
      const piece = data.subarray(from, to);
      expect(crc32(piece), `[${from}, ${to})`).to.equal(zlib.crc32(piece) >>> 0);
      const mid = from + Math.floor((to - from) / 3);
      expect(crc32(data.subarray(mid, to), crc32(data.subarray(from, mid))), `[${from}, ${to}) in two`).to.equal(zlib.crc32(piece) >>> 0);
    }
  });

  it("is the carry-less-multiply implementation on Linux x64 (npm ci installs its prebuilt binary)", function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    expect(CRC32_IMPLEMENTATION).to.equal('@node-rs/crc32');
  });
});
