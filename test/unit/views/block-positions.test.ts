import { expect } from 'chai';
import { predictOffset, sortAnchors } from '../../../src/views/rescued/block-positions';

describe('where unseen SBX blocks must lie', () => {
  const bs = 512;
  // Blocks 0..9 at 10,000 (one fragment), blocks 20.. at 100,000 (another).
  const anchors = sortAnchors([
    { index: 20, offset: 100_000 },
    { index: 0, offset: 10_000 },
    { index: 3, offset: 10_000 + 3 * bs },
  ]);

  it('follows the nearest block found before the position', () => {
    expect(predictOffset(anchors, 5, bs, 1e9)).to.equal(10_000 + 5 * bs);
    expect(predictOffset(anchors, 25, bs, 1e9)).to.equal(100_000 + 5 * bs);
  });

  it('uses the first block found when the position comes before every block found', () => {
    const later = sortAnchors([{ index: 4, offset: 8192 }]);
    expect(predictOffset(later, 1, bs, 1e9)).to.equal(8192 - 3 * bs);
  });

  it('gives nothing outside the medium or without anchors', () => {
    expect(predictOffset(anchors, 30, bs, 100_000 + 5 * bs)).to.equal(undefined);
    expect(predictOffset(sortAnchors([{ index: 4, offset: 0 }]), 1, bs, 1e9)).to.equal(undefined);
    expect(predictOffset([], 1, bs, 1e9)).to.equal(undefined);
  });
});
