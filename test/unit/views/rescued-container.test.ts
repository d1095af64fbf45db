import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Layout } from '../../../src/sbx/format/layout';
import { BlockIndex } from '../../../src/views/rescued/block-index';
import { MediumScanner } from '../../../src/views/rescued/medium-scanner';
import { RescuedContainers, RescuedUidDirectory } from '../../../src/views/rescued/rescued-views';
import { View } from '../../../src/views/view';
import { RescuedContainer } from '../../../src/views/rescued/rescued-container';
import { acquireAndScan, makeContainer, pseudoRandom } from './containers';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

interface Placed {
  uid: string;
  data: Buffer;
  container: Buffer;
  offset: number;
}

/** A medium: random bytes with containers at the given offsets. */
async function medium(size: number, parts: { uid: string; data: Buffer; offset: number; version: 1 | 17 | 18; d?: number; p?: number; burst?: number; fnm?: string }[]) {
  const image = pseudoRandom(size, 99);
  const placed: Placed[] = [];
  for (const p of parts) {
    const container = await makeContainer(p.data, { version: p.version, d: p.d, p: p.p, burst: p.burst, uid: p.uid, fnm: p.fnm });
    container.copy(image, p.offset);
    placed.push({ uid: p.uid, data: p.data, container, offset: p.offset });
  }
  return { image, placed };
}

interface InfoJson {
  blocks: Record<string, number>;
  decodedFile: { size: number; bytesReadable: number; unreadableRanges: number[][]; untriedRanges: number[][] };
}

async function readAll(c: RescuedContainer): Promise<{ data: Buffer; errorAt?: number }> {
  return c.readDecoded(0, c.fileSize ?? 0);
}

describe('RescuedContainer (/rescued/<UID>/ contents)', () => {
  afterEach(closeMemoryCaches);
  const v1 = { uid: '0A0000000001', data: pseudoRandom(5000, 1), offset: 8192 + 128, version: 1 as const, fnm: '../etc/notes.txt' };
  const v17 = { uid: '0C0000000001', data: pseudoRandom(30000, 2), offset: 65536, version: 17 as const, d: 4, p: 2, burst: 3 };

  it('decodes both containers, canonical order equal to the originals, hashes match', async () => {
    const { image, placed } = await medium(256 * 1024, [v1, v17]);
    const containers = await acquireAndScan(await memoryCache(image));
    expect(containers.index.uids().map((u) => u.uid)).to.deep.equal([v1.uid, v17.uid]);
    for (const p of placed) {
      const c = (await containers.current(p.uid)) as RescuedContainer;
      expect((await readAll(c)).data.equals(p.data), p.uid).to.equal(true);
      expect(c.sortedSize()).to.equal(p.container.length);
      expect((await c.readSorted(0, c.sortedSize())).equals(p.container), p.uid).to.equal(true);
      const info = JSON.parse((await containers.info(c)).toString()) as { hash: { matches: boolean }; blocks: { missing: number } };
      expect(info.hash.matches).to.equal(true);
      expect(info.blocks.missing).to.equal(0);
    }
    const c1 = (await containers.current(v1.uid)) as RescuedContainer;
    expect(c1.decodedName()).to.equal('notes.txt');
    expect(((await containers.current(v17.uid)) as RescuedContainer).burst).to.equal(3);
  });

  it('an empty file\'s container (metadata copies only) keeps its burst level: the sorted container is blkar\'s 13824 bytes', async () => {
    const empty = { uid: '0C0000000006', data: Buffer.alloc(0), offset: 65536, version: 17 as const, d: 10, p: 2, burst: 12 };
    const { image, placed } = await medium(256 * 1024, [empty]);
    const containers = await acquireAndScan(await memoryCache(image));
    const c = (await containers.current(empty.uid)) as RescuedContainer;
    expect(c.burst).to.equal(12);
    expect(placed[0].container.length).to.equal(13824);
    expect((await c.readSorted(0, 1 << 20)).equals(placed[0].container)).to.equal(true);
    expect((await readAll(c)).data.length).to.equal(0);
  });

  it('rebuilds blocks lost to bad sectors with Reed-Solomon (v17, within P bursts of B per super set)', async () => {
    const { image, placed } = await medium(256 * 1024, [v1, v17]);
    const cache = await memoryCache(image);
    const base = v17.offset / 512;
    // Two bursts of 3 blocks (= B) in the first super set, one in the second: at most P = 2 per super set.
    for (const s of [base + 4, base + 5, base + 6, base + 12, base + 13, base + 14, base + 30, base + 31]) cache.source.badSectors.add(s);
    const containers = await acquireAndScan(cache);
    const c = (await containers.current(v17.uid)) as RescuedContainer;
    expect((await readAll(c)).data.equals(placed[1].data)).to.equal(true);
    const info = JSON.parse((await containers.info(c)).toString()) as {
      hash: { matches: boolean };
      blocks: { dataChunksRepaired: number; dataChunksUnrecoverable: number; missing: number };
    };
    expect(info.hash.matches).to.equal(true);
    expect(info.blocks.missing).to.equal(8);
    expect(info.blocks.dataChunksUnrecoverable).to.equal(0);
    expect(info.blocks.dataChunksRepaired).to.be.greaterThan(0);
    // The canonical container has zeros where the blocks were lost, the original bytes elsewhere.
    const sorted = await c.readSorted(0, c.sortedSize());
    const layout = new Layout({ version: 17, d: 4, p: 2, burst: 3 });
    for (let i = 0; i < layout.containerBlockCount(v17.data.length); i++) {
      // Lost blocks are zeros, except metadata positions: sort copies the first metadata block to all.
      const lost = cache.source.badSectors.has(base + i) && !layout.isMetadataIndex(i);
      const expected = lost ? Buffer.alloc(512) : placed[1].container.subarray(i * 512, (i + 1) * 512);
      expect(sorted.subarray(i * 512, (i + 1) * 512).equals(expected), `block ${i}`).to.equal(true);
    }
  });

  it('stops at a chunk nothing can give: short read, then an error offset, never zeros (v1 has no parity)', async () => {
    const aligned = { ...v1, offset: 8192 };
    const { image, placed } = await medium(256 * 1024, [aligned]);
    const cache = await memoryCache(image);
    // Data seq 3 (chunk 2: bytes 992..1488 of the file) sits at medium offset 8192 + 3 * 512.
    cache.source.badSectors.add(8192 / 512 + 3);
    const containers = await acquireAndScan(cache);
    const c = (await containers.current(v1.uid)) as RescuedContainer;
    const whole = await readAll(c);
    expect(whole.errorAt).to.equal(992);
    expect(whole.data.equals(placed[0].data.subarray(0, 992))).to.equal(true);
    const after = await c.readDecoded(1488, 10000);
    expect(after.data.equals(placed[0].data.subarray(1488))).to.equal(true);
    const at = await c.readDecoded(1000, 100);
    expect(at).to.deep.equal({ data: Buffer.alloc(0), errorAt: 1000 });
    const info = JSON.parse((await containers.info(c)).toString()) as { hash: { matches: null }; decodedFile: { unreadableRanges: number[][] } };
    expect(info.decodedFile.unreadableRanges).to.deep.equal([[992, 1488]]);
    expect(info.hash.matches).to.equal(null);
  });

  it('a block set that lost more than P blocks is unreadable, the rest of the file still reads', async () => {
    const { image, placed } = await medium(256 * 1024, [v17]);
    const cache = await memoryCache(image);
    const layout = new Layout({ version: 17, d: 4, p: 2, burst: 3 });
    // Seqs 1, 2, 3 (three shards of set 0): more than P = 2.
    for (const seq of [1, 2, 3]) cache.source.badSectors.add(v17.offset / 512 + layout.seqToIndex(seq));
    const containers = await acquireAndScan(cache);
    const c = (await containers.current(v17.uid)) as RescuedContainer;
    const r = await c.readDecoded(0, 100);
    expect(r).to.deep.equal({ data: Buffer.alloc(0), errorAt: 0 });
    const later = await c.readDecoded(4 * 496, 496);
    expect(later.data.equals(placed[0].data.subarray(4 * 496, 5 * 496))).to.equal(true);
    // Chunk 3 of set 0 was not lost: readable on its own.
    const own = await c.readDecoded(3 * 496, 496);
    expect(own.data.equals(placed[0].data.subarray(3 * 496, 4 * 496))).to.equal(true);
    const info = JSON.parse((await containers.info(c)).toString()) as {
      blocks: { dataChunksRepaired: number; dataChunksUnrecoverable: number; missing: number };
      decodedFile: { unreadableRanges: number[][] };
      hash: { matches: boolean | null };
    };
    expect(info.decodedFile.unreadableRanges).to.deep.equal([[0, 3 * 496]]);
    expect(info.blocks).to.include({ dataChunksRepaired: 0, dataChunksUnrecoverable: 3, missing: 3 });
    expect(info.hash.matches).to.equal(null);
  });
  it('info.json of a container found by its metadata block alone calls the rest untried, not unreadable, and reads no sector for it', async () => {
    const aligned = { ...v1, offset: 8192 };
    const { image } = await medium(256 * 1024, [aligned]);
    const cache = await memoryCache(image);
    await cache.seed(8192 / 512, 1);
    const index = new BlockIndex(new Database(':memory:'));
    const scanner = new MediumScanner(cache.cache, index);
    scanner.start();
    await scanner.idle();
    await scanner.stop();
    const containers = new RescuedContainers(index, cache.cache);
    const c = (await containers.current(v1.uid)) as RescuedContainer;
    const info = JSON.parse((await containers.info(c)).toString()) as InfoJson;
    expect(info.decodedFile).to.deep.equal({ size: 5000, bytesReadable: 0, unreadableRanges: [], untriedRanges: [[0, 5000]] });
    expect(info.blocks).to.include({ untried: 11, missing: 0, dataChunksUnrecoverable: 0 });
    expect(cache.deviceReadsPerSector().some((n) => n > 0)).to.equal(false);
  });

  it('info.json counts the blocks a decoded read fetched before the scan recorded them: only the chunk a bad sector took is unreadable', async () => {
    const aligned = { ...v1, offset: 8192 };
    const { image } = await medium(256 * 1024, [aligned]);
    const cache = await memoryCache(image);
    cache.source.badSectors.add(8192 / 512 + 3); // data seq 3: chunk 2, bytes 992..1488
    await cache.seed(8192 / 512, 1);
    const index = new BlockIndex(new Database(':memory:'));
    const scanner = new MediumScanner(cache.cache, index);
    scanner.start();
    await scanner.idle();
    await scanner.stop(); // the scan of what the read below brings is not recorded yet
    const containers = new RescuedContainers(index, cache.cache);
    const c = (await containers.current(v1.uid)) as RescuedContainer;
    const before = JSON.parse((await containers.info(c)).toString()) as InfoJson;
    expect(before.decodedFile.untriedRanges).to.deep.equal([[0, 5000]]);
    expect((await readAll(c)).errorAt).to.equal(992);
    const info = JSON.parse((await containers.info(c)).toString()) as InfoJson; // the same index state: not the memo
    expect(info.decodedFile).to.deep.equal({ size: 5000, bytesReadable: 5000 - 496, unreadableRanges: [[992, 1488]], untriedRanges: [] });
    expect(info.blocks).to.include({ found: 11, foundNotIndexedYet: 10, untried: 0, missing: 1, dataChunksUnrecoverable: 1 });
  });

  it('decodes a container found before the medium is read: blocks predicted past a bad sector are still read, and repair what it lost', async () => {
    const { image, placed } = await medium(256 * 1024, [v17]);
    const cache = await memoryCache(image);
    const base = v17.offset / 512;
    // One burst of B = 3 blocks in the third super set: repairable (at most P = 2 per set).
    for (const s of [base + 40, base + 41, base + 42]) cache.source.badSectors.add(s);
    // Only the container's first two super sets are cached and scanned (enough to guess the burst level): every
    // later block is a prediction, read through the cache in one run that crosses the bad sectors.
    await cache.seed(base, 36);
    const index = new BlockIndex(new Database(':memory:'));
    const scanner = new MediumScanner(cache.cache, index);
    scanner.start();
    await scanner.idle();
    const c = (await new RescuedContainers(index, cache.cache).current(v17.uid)) as RescuedContainer;
    const whole = await readAll(c);
    await scanner.stop();
    expect(whole.errorAt).to.equal(undefined);
    expect(whole.data.equals(placed[0].data)).to.equal(true);
    // Rule 3 holds: each sector read from the device at most once.
    expect(cache.source.maxReadsOfGoodSector()).to.equal(1);
  });
  it('the decoded file of a container known by its metadata block alone still reads: the burst level is guessed from the blocks after it', async () => {
    const { image, placed } = await medium(256 * 1024, [v17]);
    const cache = await memoryCache(image);
    const base = v17.offset / 512;
    await cache.seed(base, 1); // the metadata block only (`file -s` or a partition probe read just that far)
    const index = new BlockIndex(new Database(':memory:'));
    const scanner = new MediumScanner(cache.cache, index);
    scanner.start();
    await scanner.idle();
    const containers = new RescuedContainers(index, cache.cache);
    const c = (await containers.settled(v17.uid)) as RescuedContainer;
    const whole = await readAll(c);
    await scanner.stop();
    expect(c.burst).to.equal(3);
    expect(whole.errorAt).to.equal(undefined);
    expect(whole.data.equals(placed[0].data)).to.equal(true);
    expect(cache.source.maxReadsOfGoodSector()).to.equal(1);
  });

  it('a 1 MiB read of a decoded file only half on the medium, in block sets of 32, gives the half that is there (v18, D 1, P 31)', async () => {
    // 9362 chunks of 112 bytes in one read: its missing block sets hold ~150,000 seqs, more than a call takes arguments.
    const half = { uid: '0D0000000001', data: pseudoRandom(9362 * 112, 5), offset: 8192, version: 18 as const, d: 1, p: 31, burst: 0 };
    const size = new Layout({ version: 18, d: 1, p: 31, burst: 0 }).containerSize(half.data.length);
    const { image } = await medium(8192 + Math.floor(size / 2 / 512) * 512, [half]); // the rest is past its end
    const dir = new RescuedUidDirectory(await acquireAndScan(await memoryCache(image)), half.uid, new Date());
    const file = (await dir.entries()).get('file.bin') as View;
    const handle = await file.open();
    const bytes = (await file.read(handle, 0, 1 << 20)) as Buffer;
    expect(bytes.length).to.equal(4681 * 112); // the chunks whose blocks are on the medium
    expect(bytes.equals(half.data.subarray(0, bytes.length))).to.equal(true);
    await file.release(handle);
  });

  it('the ordered <UID>.sbx keeps the order it was first served in while the scan finds more blocks (and it is blkar\'s order)', async () => {
    const { image, placed } = await medium(256 * 1024, [v17]);
    const cache = await memoryCache(image);
    const base = v17.offset / 512;
    await cache.seed(base, 1); // the metadata block alone: the blocks found so far say nothing of the burst level
    const index = new BlockIndex(new Database(':memory:'));
    const scanner = new MediumScanner(cache.cache, index);
    scanner.start();
    await scanner.idle();
    const dir = new RescuedUidDirectory(new RescuedContainers(index, cache.cache), v17.uid, new Date());
    const readSbx = async () => {
      const file = (await dir.entries()).get(`${v17.uid}.sbx`) as View;
      const handle = await file.open();
      const bytes = (await file.read(handle, 0, (await file.getattr()).size)) as Buffer;
      await file.release(handle);
      return bytes;
    };
    const first = await readSbx();
    await cache.seed(base, placed[0].container.length / 512); // the scan goes on over the rest of the container
    await scanner.idle();
    const later = await readSbx();
    await scanner.stop();
    // Positions may fill in (zeros then a block found later), a block never moves.
    const moved = [];
    for (let at = 0; at < first.length; at += 512) {
      const block = first.subarray(at, at + 512);
      if (block.some((b) => b !== 0) && !block.equals(later.subarray(at, at + 512))) moved.push(at / 512);
    }
    expect(moved, 'positions whose block changed between two reads').to.deep.equal([]);
    expect(later.equals(placed[0].container)).to.equal(true);
    expect(cache.source.maxReadsOfGoodSector()).to.be.at.most(1);
    // Settled on complete evidence: kept in the cache's database, so a remount serves the same order.
    expect((await new RescuedContainers(index, cache.cache).current(v17.uid))?.burstEvidence).to.equal('settled');
  });
});
