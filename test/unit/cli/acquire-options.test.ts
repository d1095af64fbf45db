// `blkfs acquire`'s ddrescue options: numbers as ddrescue 1.27 takes them, and the summary line a partial run ends with.
import { expect } from 'chai';
import { acquireSummary } from '../../../src/cli/acquire-summary';
import { parseDdrescueNumber } from '../../../src/cli/ddrescue-number';
import { UserError } from '../../../src/errors';

describe("cli/acquire: numbers in ddrescue's syntax", () => {
  const table: [string, number][] = [
    ['1048576', 1048576],
    ['0x100000', 0x100000],
    ['010', 8], // C++ octal
    ['0', 0],
    ['1k', 1000],
    ['1Ki', 1024],
    ['3Mi', 3 << 20],
    ['2M', 2_000_000],
    ['1Gi', 2 ** 30],
    ['1GiB', 2 ** 30],
    ['2048s', 2048 * 2048],
    ['1Kis', 1024 * 2048],
    ['1ks', 1000 * 2048],
    ['-1', -1],
  ];
  for (const [text, bytes] of table) {
    it(`${text} = ${bytes} bytes (sector size 2048)`, () => expect(parseDdrescueNumber(text, '-s', 2048)).to.equal(bytes));
  }
  for (const text of ['', 'abc', '1K', '1ki', '1Mx', '1.5M', '0x', '08', '1 M', '99999999999999999999']) {
    it(`refuses ${JSON.stringify(text)} (exit 1)`, () => expect(() => parseDdrescueNumber(text, '-i', 512)).to.throw(UserError, /^-i /));
  }
});

describe('cli/acquire: the summary line', () => {
  const base = { size: 1000, bytesCached: 600, bytesBad: 100, bytesUntried: 0, bytesNonTrimmed: 0, bytesNonScraped: 0 };
  it('a complete run: finished, nothing left', () => {
    expect(acquireSummary({ ...base, bytesCached: 900 }, false)).to.equal(
      'blkfs: acquisition finished: 900 bytes rescued, 100 bytes in bad sectors, 0 bytes not settled\n',
    );
  });
  it("-n: says the '/' areas are left and how to read them", () => {
    expect(acquireSummary({ ...base, bytesNonScraped: 300, scope: { noScrape: true } }, false)).to.equal(
      "blkfs: acquisition finished (-n): 600 bytes rescued, 100 bytes in bad sectors, 300 bytes not settled (300 non-scraped ('/')): " +
        'run blkfs acquire again without -n to read them\n',
    );
  });
  it("a domain: says the rest of the medium is untried", () => {
    const s = acquireSummary({ ...base, bytesUntried: 300, scope: { domain: { start: 512, end: 1024 } } }, false);
    expect(s).to.match(/^blkfs: acquisition finished \(-i 0x200 -s 0x200\): .*\(300 untried \('\?'\)\): run blkfs acquire again without -i\/-s/);
  });
  it('an interrupted run says it stopped, whatever its options', () => {
    expect(acquireSummary({ ...base, aborted: true, scope: { noTrim: true } }, false)).to.match(/^blkfs: acquisition stopped; run again to resume: /);
  });
});
