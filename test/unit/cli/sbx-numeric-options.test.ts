// `blkfs sbx` numbers as blkar 7.2.7 reads them (Rust's u64/usize from_str: an optional "+", decimal digits, up to
// 2^64 − 1), kept as JS numbers: a value a number cannot hold exactly is refused with a message, never rounded.
import { expect } from 'chai';
import { parseGuessBurstFrom, parseRange, parseRefRange, parseU64, resolveEncodingParams } from '../../../src/cli/sbx/options';

describe('sbx numeric options (blkar\'s u64/usize parsing)', () => {
  it('"+3" and leading zeros are accepted like blkar', () => {
    expect(parseRange({ from: '+3', toInc: '007' })).to.include({ from: 3, toInclusive: 7 });
    expect(parseRange({ toExc: '+0' })).to.include({ toExclusive: 0 });
    expect(parseRefRange({ refFrom: '+128' })).to.include({ from: 128 });
    expect(parseGuessBurstFrom({ guessBurstFrom: '+512' })).to.equal(512);
    expect(parseU64('+1000', 'file size')).to.equal(1000);
    expect(resolveEncodingParams({ sbxVersion: '17', rsData: '+10', rsParity: '+2', burst: '+12' })).to.deep.equal({ version: 17, dataShards: 10, parityShards: 2, burst: 12 });
  });

  it('values above 2^53 that a number holds exactly are accepted (2^60, 2^64 − 2048)', () => {
    expect(parseRange({ from: '1152921504606846976' }).from).to.equal(2 ** 60);
    expect(parseRange({ toExc: '18446744073709549568' }).toExclusive).to.equal(2 ** 64 - 2048);
  });

  it('a u64 a number cannot hold exactly is refused with the nearest value that works; beyond u64 is blkar\'s "Invalid …"', () => {
    expect(() => parseRange({ toInc: '18446744073709551615' })).to.throw(
      'Invalid to inc position: 18446744073709551615 cannot be held exactly (above 2^53 = 9007199254740992 only some values can); the nearest below is 18446744073709549568',
    );
    expect(() => parseRange({ from: '9007199254740993' })).to.throw(/^Invalid from position: 9007199254740993 cannot be held exactly .* nearest below is 9007199254740992$/);
    expect(() => parseRange({ from: '18446744073709551616' })).to.throw(/^Invalid from position$/);
    for (const bad of ['-1', '+', '', ' 1', '1e3', '0x10', '++1']) expect(() => parseRange({ from: bad }), bad).to.throw(/^Invalid from position$/);
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
