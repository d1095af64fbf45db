import { expect } from 'chai';
import { HASH_ALONG_BELOW_BYTES_PER_SEC, hashingYield } from '../../../src/archive/hashing-yield';

describe('archive/hashing-yield', () => {
  it('on 2 cores the hashing waits while the medium is read faster than it can be hashed along, not when slower', () => {
    let rate = 0;
    const wait = hashingYield(() => rate, 2);
    expect(wait()).to.equal(false); // idle device
    rate = 10e6; // a CD
    expect(wait()).to.equal(false);
    rate = HASH_ALONG_BELOW_BYTES_PER_SEC * 2; // a hard disk, a page-cached image
    expect(wait()).to.equal(true);
  });

  it('with 4 cores the hashing always goes along', () => {
    expect(hashingYield(() => 2e9, 4)()).to.equal(false);
  });
});
