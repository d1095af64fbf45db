// `blkfs sbx` numbers as blkar 7.2.7 reads them (Rust's u64/usize from_str: an optional "+", decimal digits, up to
// 2^64 − 1): byte positions are kept exactly (bigints) and clamped to the file as blkar clamps them.
import { expect } from 'chai';
import { parseGuessBurstFrom, parseRange, parseRefRange, parseU64, resolveEncodingParams } from '../../../src/cli/sbx/options';
import { refSearchRange, resolveByteRange } from '../../../src/sbx/byte-range';
import { burstGuessStart } from '../../../src/sbx/container-layout';

describe('sbx numeric options (blkar\'s u64/usize parsing)', () => {
  it('"+3" and leading zeros are accepted like blkar', () => {
    expect(parseRange({ from: '+3', toInc: '007' })).to.include({ from: 3n, toInclusive: 7n });
    expect(parseRange({ toExc: '+0' })).to.include({ toExclusive: 0n });
    expect(parseRefRange({ refFrom: '+128' })).to.include({ from: 128n });
    expect(parseGuessBurstFrom({ guessBurstFrom: '+512' })).to.equal(512n);
    expect(parseU64('+1000', 'file size')).to.equal(1000n);
    expect(resolveEncodingParams({ sbxVersion: '17', rsData: '+10', rsParity: '+2', burst: '+12' })).to.deep.equal({ version: 17, dataShards: 10, parityShards: 2, burst: 12 });
  });

  it('every u64 is kept exactly (2^53 + 1, 2^64 − 1); beyond u64, negatives and non-numbers are blkar\'s "Invalid …"', () => {
    expect(parseRange({ from: '9007199254740993' }).from).to.equal(2n ** 53n + 1n);
    expect(parseRange({ toInc: '18446744073709551615' }).toInclusive).to.equal(2n ** 64n - 1n);
    expect(() => parseRange({ from: '18446744073709551616' })).to.throw(/^Invalid from position$/);
    for (const bad of ['-1', '+', '', ' 1', '1e3', '0x10', '++1']) expect(() => parseRange({ from: bad }), bad).to.throw(/^Invalid from position$/);
  });

  it('--to-inc / --to-exc 18446744073709551615 (u64 max, "to the end") clamp to the file end, as in blkar', () => {
    const max = 2n ** 64n - 1n;
    expect(resolveByteRange({ toInclusive: max }, 1000, 512)).to.deep.equal({ start: 0, end: 1000 });
    expect(resolveByteRange({ from: 512n, toExclusive: max }, 1000, 512)).to.deep.equal({ start: 512, end: 1000 });
    // a start past the end is clamped to the last byte (then rounded down), never wrapped
    expect(resolveByteRange({ from: max, toInclusive: max }, 1000, 128)).to.deep.equal({ start: 896, end: 1000 });
    expect(refSearchRange(undefined, { from: 2n ** 53n + 1n }).from).to.equal(1n);
    expect(burstGuessStart(512, 2n ** 53n + 1n)).to.equal(2 ** 53);
  });

  it('each option is named in blkar\'s words', () => {
    expect(() => parseRange({ toExc: 'x' })).to.throw(/^Invalid to exc position$/);
    expect(() => parseRefRange({ refFrom: 'x' })).to.throw(/^Invalid ref from position$/);
    expect(() => parseRefRange({ refToInc: 'x' })).to.throw(/^Invalid ref to inc position$/);
    expect(() => parseRefRange({ refToExc: 'x' })).to.throw(/^Invalid ref to exc position$/);
    expect(() => parseGuessBurstFrom({ guessBurstFrom: 'x' })).to.throw(/^Invalid guess burst from position$/);
    expect(() => resolveEncodingParams({ sbxVersion: '017', rsData: '10', rsParity: '2' })).to.throw(/^Invalid SBX version$/);
  });
});
