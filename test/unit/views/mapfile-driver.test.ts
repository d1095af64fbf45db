import { expect } from 'chai';
import type { Extent } from '../../../src/cache/extent-map';
import { MapfileError } from '../../../src/cache/mapfile';
import { claimsOf, MapfileDriver } from '../../../src/views/mapfile-driver';

const SS = 512;
const hex = (n: number) => '0x' + n.toString(16).toUpperCase().padStart(8, '0');
function mapfile(line: string, blocks: [number, number, string][]): string {
  return `# Mapfile. Created by GNU ddrescue version 1.27\n# current_pos  current_status  current_pass\n${line}\n#      pos        size  status\n${blocks
    .map(([p, s, st]) => `${hex(p * SS)}  ${hex(s * SS)}  ${st}`)
    .join('\n')}\n`;
}

describe('MapfileDriver: ddrescue writing /mapfile', () => {
  // The cache: 0-9 '+', 10 '-', 11-19 '?', 20-29 '+'.
  const cache: Extent[] = [
    { start: 0, count: 10, status: '+' },
    { start: 10, count: 1, status: '-' },
    { start: 11, count: 9, status: '?' },
    { start: 20, count: 10, status: '+' },
  ];

  it("keeps ddrescue's non-trimmed and non-scraped areas and its status line where the cache has not decided", () => {
    const d = new MapfileDriver(SS, 30);
    const r = d.accept(mapfile(`${hex(11 * SS)}     *               1`, [[0, 10, '+'], [10, 1, '-'], [11, 4, '*'], [15, 5, '/'], [20, 10, '+']]), cache);
    expect(r.refused).to.deep.equal([]);
    expect(d.view(cache)).to.deep.equal([
      { start: 0, count: 10, status: '+' },
      { start: 10, count: 1, status: '-' },
      { start: 11, count: 4, status: '*' },
      { start: 15, count: 5, status: '/' },
      { start: 20, count: 10, status: '+' },
    ]);
    expect(d.statusLine()).to.deep.equal({ currentPos: 11 * SS, phase: '*', pass: 1 });
  });

  it("never marks '+' what the cache does not hold (reported); what the cache holds and the writer has not rescued shows as the writer's", () => {
    const d = new MapfileDriver(SS, 30);
    const r = d.accept(mapfile('0x0 ? 1', [[0, 5, '?'], [5, 15, '+'], [20, 8, '+'], [28, 2, '-']]), cache);
    expect(d.view(cache)).to.deep.equal([
      { start: 0, count: 5, status: '?' }, // read ahead of ddrescue: not in its image, so it reads them again (from the cache)
      { start: 5, count: 5, status: '+' },
      { start: 10, count: 1, status: '-' },
      { start: 11, count: 9, status: '?' },
      { start: 20, count: 8, status: '+' },
      { start: 28, count: 2, status: '-' },
    ]);
    expect(r.refused).to.have.length(2);
    expect(r.refused[0]).to.include("refused '+' for 512 bytes at 5120");
    expect(r.refused[1]).to.include("refused '+' for 4608 bytes at 5632");
  });

  it("a map cut short (ddrescue killed while saving it) claims nothing past its end: cached '+' there shows '?', as ddrescue reads it", () => {
    // ddrescue reading a mapfile that ends early takes the rest as non-tried and copies it; shown '+', it would skip
    // it and leave its image without those bytes under a map calling them rescued.
    const d = new MapfileDriver(SS, 30);
    d.accept(mapfile('0x0 ? 1', [[0, 10, '+'], [10, 1, '-'], [11, 4, '?']]), cache);
    expect(d.view(cache)).to.deep.equal([
      { start: 0, count: 10, status: '+' },
      { start: 10, count: 1, status: '-' },
      { start: 11, count: 19, status: '?' },
    ]);
  });

  it('rejects a malformed write with the line number and keeps the previous state', () => {
    const d = new MapfileDriver(SS, 30);
    d.accept(mapfile('0x0 / 2', [[0, 30, '+']]), cache);
    expect(() => d.accept('0x0 ? 1\n0x0 0x200 +\n0x400 0x200 -\n', cache)).to.throw(MapfileError, /line 3/);
    expect(d.statusLine()?.phase).to.equal('/');
  });

  it("gives a sector two blocks share the less done status, as blkfs import and ddrescue do: part '-', part '?' is '?' (helper review)", () => {
    // ddrescue -b512 on a CD (2048-byte sectors): it found bytes 0-1023 bad, never tried 1024-2047, and the cache
    // holds the whole sector. Shown '-', ddrescue never copied the cached bytes 1024-2047 into its image.
    const cd: Extent[] = [{ start: 0, count: 2, status: '+' }];
    const blocks: [number, number, string][] = [[0, 2, '-'], [2, 2, '?'], [4, 4, '+']];
    expect(claimsOf(blocks.map(([p, n, st]) => ({ pos: p * SS, size: n * SS, status: st as '+' })), 2048, 2)[0]).to.deep.equal({ start: 0, count: 1, status: '?' });
    const d = new MapfileDriver(2048, 2);
    expect(d.accept(mapfile('0x0 ? 1', blocks), cd).refused).to.deep.equal([]);
    expect(d.view(cd)).to.deep.equal([
      { start: 0, count: 1, status: '?' }, // ddrescue copies it again, from the cache
      { start: 1, count: 1, status: '+' },
    ]);
    // part '-', part '/' is '/' (its scraping is still due): no warning of a bad mark the device never gave
    const undecided: Extent[] = [{ start: 0, count: 2, status: '?' }];
    const d2 = new MapfileDriver(2048, 2);
    expect(d2.accept(mapfile('0x0 / 1', [[0, 2, '-'], [2, 2, '/'], [4, 4, '?']]), undecided).refused).to.deep.equal([]);
    expect(d2.view(undecided)[0]).to.deep.equal({ start: 0, count: 1, status: '/' });
  });

  it('gives a sector two unaligned blocks share the less done status', () => {
    const c = claimsOf([{ pos: 0, size: 700, status: '+' }, { pos: 700, size: 324, status: '-' }], SS, 2);
    expect(c).to.deep.equal([
      { start: 0, count: 1, status: '+' },
      { start: 1, count: 1, status: '-' },
    ]);
    expect(claimsOf([{ pos: 0, size: 512, status: '+' }], SS, 3)).to.deep.equal([
      { start: 0, count: 1, status: '+' },
      { start: 1, count: 2, status: 'none' },
    ]);
  });

  it("a '+' that a map cut short leaves inside a sector does not make that sector '+' (ddrescue reads the rest as non-tried)", () => {
    // ends inside sector 1, nothing after: sector 1 at best '?'
    expect(claimsOf([{ pos: 0, size: 700, status: '+' }], SS, 3)).to.deep.equal([
      { start: 0, count: 1, status: '+' },
      { start: 1, count: 1, status: '?' },
      { start: 2, count: 1, status: 'none' },
    ]);
    // starts inside sector 0: sector 0 at best '?'; a '-' ending inside sector 1 leaves it '?' (its rest is non-tried)
    expect(claimsOf([{ pos: 100, size: 1436, status: '+' }], SS, 3)).to.deep.equal([
      { start: 0, count: 1, status: '?' },
      { start: 1, count: 2, status: '+' },
    ]);
    expect(claimsOf([{ pos: 0, size: 700, status: '-' }], SS, 3).slice(0, 2)).to.deep.equal([
      { start: 0, count: 1, status: '-' },
      { start: 1, count: 1, status: '?' },
    ]);
    // the medium's own partial last sector is whole when the map reaches the medium's end
    expect(claimsOf([{ pos: 0, size: 1000, status: '+' }], SS, 2, 1000)).to.deep.equal([{ start: 0, count: 2, status: '+' }]);
  });
});
