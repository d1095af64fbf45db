import { expect } from 'chai';
import { WORK_ALONG_BELOW_BYTES_PER_SEC, backgroundYield } from '../../../src/cache/background-yield';

describe('cache/background-yield (when the checksums and the SBX block scan wait)', () => {
  it('on 2 cores background work waits while the medium is read fast, not when slower', () => {
    let rate = 0;
    const wait = backgroundYield(() => rate, 2);
    expect(wait()).to.equal(false); // idle device
    rate = 10e6; // a CD
    expect(wait()).to.equal(false);
    rate = WORK_ALONG_BELOW_BYTES_PER_SEC * 2; // a hard disk, a page-cached image
    expect(wait()).to.equal(true);
  });

  it('with 4 cores background work always goes along', () => {
    expect(backgroundYield(() => 2e9, 4)()).to.equal(false);
  });
});
