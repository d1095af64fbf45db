// blkfs import takes over ddrescue's whole map: '-', '*' and '/' too, so the cache goes on where ddrescue stopped
// (a bad sector is not read again without retries, '*' is trimmed, '/' scraped), as ddrescue resuming would.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { exportImage, importRescue } from '../../../src/cache/import-export';
import { sectorStatesOf } from '../../../src/cache/imported-states';
import { parseMapfile } from '../../../src/cache/mapfile';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;
const hex = (n: number) => '0x' + n.toString(16).padStart(8, '0');
/** A ddrescue mapfile of [sector start, sector end, status] areas of 512-byte sectors. */
const mapOf = (areas: [number, number, string][]) => '0x0 ? 1\n' + areas.map(([a, b, st]) => `${hex(a * 512)} ${hex((b - a) * 512)} ${st}\n`).join('');

describe('cache/import of a ddrescue map: bad, non-trimmed and non-scraped areas', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-import-map-')));
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const write = (name: string, data: string | Buffer) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, data);
    return f;
  };

  it('a sector whose bytes carry several statuses takes the one that leaves the most to do', () => {
    // 2048-byte sectors, a medium of 10000 bytes (the last sector partial)
    const blocks = parseMapfile(
      '0 + 1\n0 3000 +\n3000 1096 -\n4096 904 /\n5000 1144 -\n6144 856 *\n7000 1000 ?\n8000 2000 +\n',
    ).blocks;
    expect(sectorStatesOf(blocks, 2048, 10000)).to.deep.equal([
      { start: 0, count: 1, status: '+' },
      { start: 1, count: 1, status: '-' }, // partly '+', partly bad: not '+', and no read is due without retries
      { start: 2, count: 1, status: '/' }, // partly non-scraped, partly bad: still to be scraped
      { start: 3, count: 1, status: '?' }, // partly never tried
      { start: 4, count: 1, status: '+' }, // the partial last sector, rescued to the medium's end
    ]);
    // bytes the map does not cover (it starts late, or ends early) are non-tried
    expect(sectorStatesOf([{ pos: 0, size: 5000, status: '-' }], 2048, 10000)).to.deep.equal([
      { start: 0, count: 2, status: '-' },
      { start: 2, count: 3, status: '?' },
    ]);
    expect(sectorStatesOf([{ pos: 1000, size: 20000, status: '*' }], 2048, 10000)).to.deep.equal([
      { start: 0, count: 1, status: '?' },
      { start: 1, count: 4, status: '*' },
    ]);
  });

  it("records the map's '-', '*' and '/' where the cache has not got further, and export gives them back", async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [1000] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') }); // holds sectors 0..127 (its identity window)
    await dev.read(1000 * 512, 512); // the cache's own '-'
    const rescue = Buffer.alloc(MiB, 0xee);
    img.copy(rescue, 1001 * 512, 1001 * 512);
    const map = mapOf([
      [0, 256, '-'], // '+' in the cache for 0..127: kept
      [256, 512, '*'],
      [512, 768, '/'],
      [768, 1000, '?'],
      [1000, 1001, '*'], // '-' in the cache: it was read alone and refused; trimming it would read it again
      [1001, 2048, '+'],
    ]);
    src.resetCounts();
    const r = await importRescue(dev, write('r.img', rescue), write('r.map', map));
    expect(src.stats().reads + src.stats().failedReads).to.equal(0);
    expect(r).to.deep.include({ bytesImported: 1047 * 512, bytesAlreadyCached: 0, bytesMarkedBad: 128 * 512, bytesMarkedNonTrimmed: 256 * 512, bytesMarkedNonScraped: 256 * 512 });
    await exportImage(dev, path.join(tmp, 'out.img'), path.join(tmp, 'out.map'));
    expect(parseMapfile(fs.readFileSync(path.join(tmp, 'out.map'), 'utf8')).blocks).to.deep.equal(
      [
        [0, 128, '+'],
        [128, 256, '-'],
        [256, 512, '*'],
        [512, 768, '/'],
        [768, 1000, '?'],
        [1000, 1001, '-'],
        [1001, 2048, '+'],
      ].map(([a, b, status]) => ({ pos: (a as number) * 512, size: ((b as number) - (a as number)) * 512, status })),
    );
  });

  it("acquire then resumes as ddrescue would: '-' is not read (unless retries are asked for), '*' is trimmed, '/' scraped", async () => {
    const img = patternBuffer(MiB);
    const bad = [...range(128, 136), ...range(300, 304), 388];
    const src = new MemorySource(img, { badSectors: bad });
    const cacheDir = path.join(tmp, 'c');
    dev = await openCache({ source: src, cacheDir, readaheadBytes: 0 });
    const map = mapOf([
      [0, 128, '+'],
      [128, 136, '-'],
      [136, 256, '+'],
      [256, 384, '*'],
      [384, 392, '/'],
      [392, 2048, '?'],
    ]);
    await importRescue(dev, write('r.img', img), write('r.map', map));
    src.log.length = 0;
    await dev.acquire();
    const touching = (a: number, b: number) => src.log.filter((l) => l.offset < b * 512 && l.offset + l.length > a * 512);
    expect(touching(128, 136), "reads of ddrescue's bad sectors").to.deep.equal([]);
    expect(touching(256, 384).length, 'the non-trimmed area is trimmed').to.be.greaterThan(0);
    for (let s = 384; s < 392; s++) expect(touching(s, s + 1), `sector ${s} scraped, alone`).to.deep.equal([{ offset: s * 512, length: 512, ok: s !== 388 }]);
    expect(dev.extents().filter((e) => e.status !== '+')).to.deep.equal([
      { start: 128, count: 8, status: '-' },
      { start: 300, count: 4, status: '-' },
      { start: 388, count: 1, status: '-' },
    ]);
    // with retries, each bad sector ddrescue found is read once more, alone
    await dev.close();
    dev = await openCache({ source: src, cacheDir, readaheadBytes: 0, retries: 1 });
    src.log.length = 0;
    await dev.acquire();
    expect(touching(128, 136)).to.deep.equal(range(128, 136).map((s) => ({ offset: s * 512, length: 512, ok: false })));
  });
});

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a }, (_, i) => a + i);
}
