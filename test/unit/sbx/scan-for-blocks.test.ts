import { expect } from 'chai';
import { buildBlock } from '../../../src/sbx/format/header';
import { scanForBlocks } from '../../../src/sbx/format/scan';
import { pseudoRandom } from '../views/containers';

const UID = Buffer.from('0123456789ab', 'hex');

describe('scanForBlocks (128-byte scanning for SBX blocks)', () => {
  it('finds valid blocks of every version at 128-aligned medium offsets', () => {
    const medium = pseudoRandom(64 * 1024, 7);
    const placed = [
      { offset: 0, version: 1 as const, seq: 0 },
      { offset: 1024 + 128, version: 2 as const, seq: 5 },
      { offset: 8192, version: 3 as const, seq: 1 },
      { offset: 20480 + 384, version: 17 as const, seq: 12 },
      { offset: 30000 - (30000 % 128), version: 18 as const, seq: 3 },
      { offset: 40960, version: 19 as const, seq: 9 },
    ];
    for (const p of placed) buildBlock(p.version, UID, p.seq, Buffer.from('payload')).copy(medium, p.offset);
    const found = scanForBlocks(medium, 0, 0, medium.length);
    expect(found.map((f) => [f.pos, f.header.version, f.header.seq])).to.deep.equal(placed.map((p) => [p.offset, p.version, p.seq]));
    expect(found.every((f) => f.header.uid.equals(UID))).to.equal(true);
  });

  it('ignores misaligned blocks, bad CRCs and blocks cut off by the end of the bytes', () => {
    const medium = pseudoRandom(16 * 1024, 9);
    buildBlock(1, UID, 1, Buffer.alloc(10)).copy(medium, 64); // misaligned
    const broken = buildBlock(1, UID, 2, Buffer.alloc(10));
    broken[100] ^= 1;
    broken.copy(medium, 1024);
    buildBlock(3, UID, 3, Buffer.alloc(10)).copy(medium, 12288); // valid, but only 2 KiB of it in the scanned bytes
    expect(scanForBlocks(medium.subarray(0, 14 * 1024), 0, 0, 14 * 1024)).to.deep.equal([]);
  });

  it('counts alignment from the start of the medium, not of the buffer', () => {
    const medium = pseudoRandom(8192, 3);
    buildBlock(17, UID, 4, Buffer.alloc(3)).copy(medium, 4096);
    // A buffer holding medium bytes [4000, 8192): the block is at buffer offset 96.
    const found = scanForBlocks(medium.subarray(4000), 4000, 4000, 8192);
    expect(found.map((f) => f.pos)).to.deep.equal([4096]);
    // Block starts outside [from, to) are not reported.
    expect(scanForBlocks(medium.subarray(4000), 4000, 4100, 8192)).to.deep.equal([]);
  });
});
