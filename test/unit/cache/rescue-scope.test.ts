// ddrescue's -n, -N, -i/-s in the rescue passes (a MemorySource counts every device read per sector), and the
// domain arithmetic they rest on.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { parseMapfile } from '../../../src/cache/mapfile';
import { describeScope, domainOf, settledBytesIn } from '../../../src/cache/rescue-scope';
import { UserError } from '../../../src/errors';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
/** Bad sectors with good ones between them: the copying pass marks their clusters '*', trimming leaves '/'. */
const BAD = [...range(3000, 3004), 3010, 3020];

describe('cache/acquire with ddrescue options (-n, -N, -i/-s)', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  let src: MemorySource;
  /** Bytes the identity probe cached at open (the first 64 KiB window). */
  let probed: number;
  const img = patternBuffer(4 * MiB);

  beforeEach(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-scope-'));
    src = new MemorySource(img, { badSectors: BAD });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    probed = dev.status().bytesCached;
    src.resetCounts(); // the identity probe's reads at open
  });
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const statuses = () => new Set(parseMapfile(dev!.mapfileText()).blocks.map((b) => b.status));
  /** Sectors some read of exactly one sector touched. */
  const singleSectorReads = () => src.log.filter((r) => r.length === 512).length;

  it("-n: copies and trims, leaves '/' areas, and a later plain run scrapes only them", async () => {
    const r = await dev!.acquire({ scope: { noScrape: true } });
    expect(r.aborted).to.equal(false);
    expect(r.bytesUntried).to.equal(0);
    expect(r.bytesNonTrimmed).to.equal(0);
    expect(r.bytesNonScraped).to.be.greaterThan(0);
    expect(r.phase).to.equal('/'); // not "Finished"
    expect(parseMapfile(dev!.mapfileText()).phase).to.equal('/');
    const nonScraped = parseMapfile(dev!.mapfileText()).blocks.filter((b) => b.status === '/');
    const inside = (x: { offset: number }) => nonScraped.some((b) => x.offset >= b.pos && x.offset < b.pos + b.size);
    expect(src.log.filter((x) => x.length === 512 && inside(x))).to.deep.equal([]); // no '/' sector was read on its own
    const before = src.log.length;
    const done = await dev!.acquire();
    expect(done.phase).to.equal('+');
    expect(done.bytesBad).to.equal(BAD.length * 512);
    // the second run read only the '/' sectors, one at a time
    const second = src.log.slice(before);
    expect(second.every((x) => x.length === 512 && inside(x))).to.equal(true);
    expect(second.length).to.equal(nonScraped.reduce((n, b) => n + b.size / 512, 0));
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it("-N: copies only: failed clusters stay '*', no sector is read on its own", async () => {
    const r = await dev!.acquire({ scope: { noTrim: true } });
    expect(r.bytesUntried).to.equal(0);
    expect(r.bytesNonTrimmed).to.be.greaterThan(0);
    expect(r.bytesBad).to.equal(0);
    expect(singleSectorReads()).to.equal(0);
    expect([...statuses()].sort()).to.deep.equal(['*', '+']);
    expect(r.phase).to.equal('*');
  });

  it("-i/-s: reads nothing outside the domain, which stays '?'; a plain run then reads only the rest", async () => {
    const domain = { start: 1 * MiB, end: 2 * MiB + 512 * 1024 }; // holds the bad sectors (at 1.46 MiB)
    const r = await dev!.acquire({ scope: { domain } });
    expect(r.aborted).to.equal(false);
    expect(src.log.length).to.be.greaterThan(0);
    for (const x of src.log) expect(x.offset >= domain.start && x.offset + x.length <= domain.end, `read at ${x.offset}`).to.equal(true);
    const blocks = parseMapfile(dev!.mapfileText()).blocks;
    expect(blocks[0]).to.deep.equal({ pos: 0, size: probed, status: '+' });
    expect(blocks[1]).to.deep.equal({ pos: probed, size: domain.start - probed, status: '?' });
    expect(blocks[blocks.length - 1]).to.deep.equal({ pos: domain.end, size: img.length - domain.end, status: '?' });
    expect(blocks.filter((b) => b.status === '-').reduce((n, b) => n + b.size, 0)).to.equal(BAD.length * 512);
    expect(r.bytesCached).to.equal(probed + domain.end - domain.start - BAD.length * 512);
    src.resetCounts();
    const done = await dev!.acquire();
    expect(done.phase).to.equal('+');
    for (let s = domain.start / 512; s < domain.end / 512; s++) expect(src.readsOfSector(s), `sector ${s}`).to.equal(0);
    expect(done.bytesCached).to.equal(img.length - BAD.length * 512);
  });

  it('a domain resumes its copying pass inside itself after an interruption, never before its start', async () => {
    const ac = new AbortController();
    let calls = 0;
    const domain = { start: 2 * MiB, end: 4 * MiB };
    const r1 = await dev!.acquire({ streamBytes: 256 * 1024, signal: ac.signal, scope: { domain }, onProgress: () => ++calls === 3 && ac.abort() });
    expect(r1.aborted).to.equal(true);
    const r2 = await dev!.acquire({ streamBytes: 256 * 1024, scope: { domain } });
    expect(r2.bytesCached).to.equal(probed + 2 * MiB);
    expect(src.log.every((x) => x.offset >= domain.start)).to.equal(true);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });
});

describe('cache/rescue-scope: the domain of -i/-s on a medium', () => {
  const medium = { size: 10 * 512 + 100, sectorSize: 512 }; // a partial last sector
  it('takes -s as a maximum (clipped at the end), the whole medium as no domain', () => {
    expect(domainOf(1024, 512, medium)).to.deep.equal({ start: 1024, end: 1536 });
    expect(domainOf(1024, 1 << 30, medium)).to.deep.equal({ start: 1024, end: medium.size });
    expect(domainOf(1024, -1, medium)).to.deep.equal({ start: 1024, end: medium.size });
    expect(domainOf(0, undefined, medium)).to.equal(undefined);
  });
  for (const [ipos, size, message] of [
    [medium.size, undefined, /outside the medium \(5220 bytes/],
    [1000, undefined, /not on a sector boundary.*use 512 or 1024/],
    [512, 1000, /ends the domain at 1512, not on a sector boundary/],
    [512, 0, /at least one sector/],
  ] as const) {
    it(`refuses -i ${ipos}${size !== undefined ? ` -s ${size}` : ''} (exit 1)`, () => {
      expect(() => domainOf(ipos, size, medium)).to.throw(UserError, message);
    });
  }
  it("counts the settled bytes ('+', '-') of a domain, for its progress bar", () => {
    const extents = [
      { start: 0, count: 4, status: '+' },
      { start: 4, count: 2, status: '-' },
      { start: 6, count: 2, status: '/' },
      { start: 8, count: 3, status: '+' },
    ];
    expect(settledBytesIn(extents, 512, { start: 3 * 512, end: 9 * 512 })).to.equal(4 * 512);
  });
  it("describes a scope in ddrescue's options", () => {
    expect(describeScope({ noScrape: true, domain: { start: 0x100000, end: 0x180000 } })).to.equal('-n -i 0x100000 -s 0x80000');
    expect(describeScope({})).to.equal('all phases, the whole medium');
  });
});
