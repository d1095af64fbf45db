import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RescueProgress } from '../../../src/cache/rescue-passes';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { parseMapfile } from '../../../src/cache/mapfile';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';
import { OperationError } from '../../../src/errors';
import { TransientReadError } from '../../../src/source/block-source';

const MiB = 1024 * 1024;
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('cache/acquire (ddrescue strategy through the cache)', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-acquire-');
  });
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('copies, trims and scrapes to exact bad sectors, reading each good sector once', async () => {
    const img = patternBuffer(8 * MiB);
    // a 4 KiB bad area, a single bad sector, and two bad sectors with good ones between them (scraping finds those)
    const bad = [...range(4096, 4104), 10000, 12000, 12005];
    const src = new MemorySource(img, { badSectors: bad });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const phases = new Set<string>();
    const result = await dev.acquire({ onProgress: (p: RescueProgress) => phases.add(p.phase) });
    expect(result.aborted).to.equal(false);
    expect(result.phase).to.equal('+');
    expect(result.bytesBad).to.equal(bad.length * 512);
    expect(result.bytesCached).to.equal(img.length - bad.length * 512);
    expect([...phases]).to.include.members(['?', '*', '+']);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    const blocks = parseMapfile(dev.mapfileText()).blocks.filter((b) => b.status === '-');
    expect(blocks.map((b) => [b.pos / 512, b.size / 512])).to.deep.equal([
      [4096, 8],
      [10000, 1],
      [12000, 1],
      [12005, 1],
    ]);
    const all = await dev.read(0, img.length);
    expect(all.errorAt).to.equal(4096 * 512);
    expect(all.data.equals(img.subarray(0, 4096 * 512))).to.equal(true);
  });

  it('transient server failures mark nothing: the passes wait, go on from the state and end with exact bad sectors, each good sector read once', async () => {
    const img = patternBuffer(4 * MiB);
    const bad = [...range(2048, 2056), 6000];
    let reads = 0;
    const src: MemorySource = new MemorySource(img, {
      badSectors: bad,
      // reads 3 to 8 (the copying pass, and again the trimming) fail with ENOMEM
      onRead: () => (src.transient = ++reads >= 3 && reads < 9 ? 'ENOMEM' : undefined),
    });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const result = await dev.acquire({ chunkBytes: 64 * 1024, streamBytes: 256 * 1024, transientWaitMs: 5 });
    expect(result.aborted).to.equal(false);
    expect(result.bytesBad).to.equal(bad.length * 512);
    expect(result.bytesCached).to.equal(img.length - bad.length * 512);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('a server that keeps failing transiently stops the acquisition (OperationError naming the error) with nothing marked bad', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img);
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    src.transient = 'ENOMEM';
    const err = await dev.acquire({ transientWaitMs: 5 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OperationError).and.not.be.instanceOf(TransientReadError);
    expect((err as Error).message).to.match(/stopped: the server failed reads 3 times in a row for a passing reason \(server failed a read with ENOMEM \(test\)\); nothing was marked bad/);
    const st = dev.status();
    expect(st.bytesBad + st.bytesNonTrimmed + st.bytesNonScraped).to.equal(0);
    expect(st.bytesUntried).to.equal(img.length - st.bytesCached);
    src.transient = undefined;
    expect((await dev.acquire({})).bytesCached).to.equal(img.length);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('goes through the phases of ddrescue: "*" after copying, "/" after trimming', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img, { badSectors: [1000, 1010] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const seen: string[] = [];
    const snapshot = () => dev!.extents().filter((e) => e.status !== '+' && e.status !== '?').map((e) => `${e.start}:${e.count}${e.status}`).join(' ');
    await dev.acquire({
      onProgress: (p) => {
        if (seen[seen.length - 1] !== `${p.phase} ${snapshot()}`) seen.push(`${p.phase} ${snapshot()}`);
      },
    });
    // the 64 KiB chunk holding both bad sectors fails whole, then its edges are trimmed, then the middle scraped
    expect(seen).to.include('* 896:128*');
    expect(seen).to.include('/ 1000:1- 1001:9/ 1010:1-');
    expect(seen[seen.length - 1]).to.equal('+ 1000:1- 1010:1-');
  });

  // ddrescue's manual (Algorithm, trimming): "If any edge is already adjacent to a bad sector, it is considered as
  // already trimmed and is not trimmed again": no reading next to a known bad sector before the scraping phase.
  it("trims no edge of a '*' block that touches a bad sector: -n leaves it '/' unread, as ddrescue does", async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img, { badSectors: [1000, 1020] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    // A reader's read from 1000 fails: 1000 read alone is bad ('-'), the rest of its read stays non-trimmed ('*').
    expect((await dev.read(1000 * 512, 64 * 512)).errorAt).to.equal(1000 * 512);
    const at = (from: number, to: number) => src.log.filter((r) => r.length === 512 && r.offset >= from * 512 && r.offset < to * 512);
    const before = src.log.length;
    await dev.acquire({ scope: { noScrape: true } });
    const during = src.log.slice(before).filter((r) => r.length === 512 && r.offset >= 1001 * 512 && r.offset < 1020 * 512);
    expect(during, 'sector reads next to the bad sector').to.deep.equal([]);
    // trailing edge trimmed backwards to the next bad sector; what is between stays non-scraped
    const blocks = parseMapfile(dev.mapfileText()).blocks.filter((b) => b.status !== '+');
    expect(blocks.map((b) => `${b.pos / 512}:${b.size / 512}${b.status}`)).to.deep.equal(['1000:1-', '1001:19/', '1020:1-']);
    expect(at(1021, 1064)).to.have.length(43);
    await dev.acquire({});
    expect(dev.status().bytesBad).to.equal(2 * 512);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  // A sector-wise read (trimming, scraping) of a failing medium can take minutes: what it read is committed as it
  // goes, with the group commit, not when its whole span ends, so a kill -9 does not make the drive read it again.
  it('commits each sector of a sector-wise span as it is read, not at the end of the span', async () => {
    const img = patternBuffer(1 * MiB);
    const src = new MemorySource(img, { badSectors: [1210], delayMs: 20 });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const start = 1200;
    expect(range(start, start + 40).every((s) => dev!.statusAt(s) === '?')).to.equal(true);
    const readsBefore = src.log.length;
    let ended = false;
    const span = dev.fetch(start, start + 40, '?', 'scrape', 'background').then(() => (ended = true));
    while (src.log.length < readsBefore + 20) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 150)); // longer than a group commit's window
    expect(ended, 'the span is still being read').to.equal(false);
    expect(dev.statusAt(start), 'its first sector').to.equal('+');
    expect(dev.statusAt(1210), 'its bad sector').to.equal('-');
    await span;
    expect(range(start, start + 40).filter((s) => dev!.statusAt(s) !== '+')).to.deep.equal([1210]);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('is abortable and resumes from the state store', async () => {
    const img = patternBuffer(8 * MiB);
    const src = new MemorySource(img);
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const ac = new AbortController();
    let calls = 0;
    const r1 = await dev.acquire({
      signal: ac.signal,
      onProgress: () => {
        if (++calls === 3) ac.abort(); // 8 MiB streams in eight 1 MiB reads
      },
    });
    expect(r1.aborted).to.equal(true);
    expect(r1.bytesUntried).to.be.greaterThan(0);
    expect(r1.phase).to.equal('?');
    await dev.close();
    const readsBefore = src.log.filter((l) => l.ok).map((l) => [l.offset, l.length]);
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    // the identity probe re-reads a few sectors of the first 64 KiB on purpose; nothing else is read twice
    const probeBytes = dev.status().identityProbe.bytes;
    expect(probeBytes).to.be.within(512, 8192);
    src.resetCounts();
    const r2 = await dev.acquire();
    expect(r2.aborted).to.equal(false);
    expect(r2.bytesCached).to.equal(img.length);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    for (const [o, l] of readsBefore) for (let s = o / 512; s < (o + l) / 512; s++) expect(src.readsOfSector(s)).to.equal(0);
  });

  it('foreground reads go before background acquisition reads', async () => {
    const img = patternBuffer(8 * MiB);
    const src = new MemorySource(img, { delayMs: 2 });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c'), concurrency: 1 });
    const acq = dev.acquire({ streamBytes: 64 * 1024 }); // 128 reads: the pass is far from 7 MiB after 20 ms
    await new Promise((r) => setTimeout(r, 20));
    const before = src.log.length;
    const fg = await dev.read(7 * MiB, 4096);
    const readsAhead = src.log.findIndex((l) => l.offset === 7 * MiB) - before;
    expect(fg.data.equals(img.subarray(7 * MiB, 7 * MiB + 4096))).to.equal(true);
    const acquired = await acq;
    // only the background read already on the device went first (plus ours), not the rest of the pass
    expect(readsAhead).to.be.within(0, 1);
    expect(acquired.bytesCached).to.equal(img.length);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('retries bad sectors up to --retries times, counted across runs', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [700] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c'), retries: 2 });
    await dev.acquire();
    expect(src.readsOfSector(700)).to.equal(3 + 2); // the failed 1 MiB read, its failed cluster, the trim read, then 2 retries
    await dev.acquire();
    expect(src.readsOfSector(700)).to.equal(5);
    expect(dev.triesAt(700)).to.equal(2);
  });

  it('its mapfile is accepted by ddrescuelog -t at several moments of an acquisition', async function () {
    if (spawnSync('sh', ['-c', 'command -v ddrescuelog']).status !== 0) this.skip();
    const img = patternBuffer(4 * MiB);
    const src = new MemorySource(img, { badSectors: [...range(3000, 3010), 6000] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const texts: string[] = [];
    let n = 0;
    await dev.acquire({ onProgress: () => (n++ % 2 === 0 ? texts.push(dev!.mapfileText()) : undefined) });
    texts.push(dev.mapfileText());
    expect(texts.length).to.be.greaterThan(5);
    for (const t of texts) {
      const f = path.join(tmp, 'm.map');
      fs.writeFileSync(f, t);
      const r = spawnSync('ddrescuelog', ['-t', f], { encoding: 'utf8' });
      expect(r.status, r.stderr + t).to.equal(0);
    }
    const last = spawnSync('ddrescuelog', ['-t', path.join(tmp, 'm.map')], { encoding: 'utf8' }).stdout;
    expect(last).to.match(/current status: finished/);
    expect(last).to.match(/bad-sector:\s+5632 B,\s+in\s+2 area/);
  });
});
