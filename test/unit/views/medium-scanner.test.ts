import { expect } from 'chai';
import Database from 'better-sqlite3';
import { buildBlock } from '../../../src/sbx/format/header';
import { ChunkDamagedError } from '../../../src/cache/fixity';
import { BlockIndex } from '../../../src/views/rescued/block-index';
import { MediumScanner, ScannerOptions } from '../../../src/views/rescued/medium-scanner';
import { makeContainer, pseudoRandom } from './containers';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

const UID = Buffer.from('a1a2a3a4a5a6', 'hex');

async function setup(image: Buffer, db = new Database(':memory:'), options: ScannerOptions = {}) {
  const mem = await memoryCache(image);
  const index = new BlockIndex(db);
  const scanner = new MediumScanner(mem.cache, index, options);
  return { mem, cache: mem.cache, index, scanner, db };
}

/** Bytes the scanner read back from the cache (readCachedInto is its only read). */
function countScannedReads(cache: { readCachedInto(o: number, l: number, t: Buffer): Promise<void> }): () => number {
  let bytes = 0;
  const read = cache.readCachedInto.bind(cache);
  cache.readCachedInto = async (o: number, l: number, target: Buffer) => {
    bytes += l;
    return read(o, l, target);
  };
  return () => bytes;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, limitMs = 5000): Promise<void> {
  for (const t0 = Date.now(); !condition(); await sleep(10)) {
    if (Date.now() - t0 > limitMs) throw new Error('condition not reached');
  }
}

describe('MediumScanner (indexes SBX blocks as sectors enter the cache)', () => {
  afterEach(closeMemoryCaches);

  it('finds a block straddling two cached runs, whichever run arrives first', async () => {
    for (const order of ['left-first', 'right-first']) {
      const image = pseudoRandom(64 * 1024, 11);
      // A 4096-byte v3 block from 10240 to 14336: sectors 20..27; cached as [16, 24) and [24, 32).
      buildBlock(3, UID, 7, Buffer.from('straddling')).copy(image, 10240);
      const { cache, index, scanner } = await setup(image);
      scanner.start();
      const runs = order === 'left-first' ? [16 * 512, 24 * 512] : [24 * 512, 16 * 512];
      for (const start of runs) {
        await cache.read(start, 8 * 512);
        await cache.commitPending(); // readers are answered before the commit that notifies the scanner
        await scanner.idle();
      }
      const rows = index.blocksInSeqRange(UID.toString('hex').toUpperCase(), 3, 0, 100, index.maxId());
      expect(rows.map((r) => [r.offset, r.seq, r.kind]), order).to.deep.equal([[10240, 7, 'data']]);
      await scanner.stop();
    }
  });

  it('never reads an uncached sector (scanning costs no device read)', async () => {
    const image = pseudoRandom(32 * 1024, 5);
    const { mem, cache, scanner } = await setup(image);
    scanner.start();
    await cache.read(4096, 4096);
    await cache.commitPending();
    await scanner.idle();
    const reads = mem.deviceReadsPerSector();
    expect(reads.reduce((a, b) => a + b, 0)).to.equal(8);
    expect(reads.every((n) => n <= 1)).to.equal(true);
    await scanner.stop();
  });

  it('classifies parity blocks once the metadata (RSD/RSP) is found, in either order', async () => {
    const data = pseudoRandom(3000, 2);
    const container = await makeContainer(data, { version: 17, d: 3, p: 2, burst: 0, uid: 'a1a2a3a4a5a6' });
    const image = Buffer.concat([pseudoRandom(4096, 1), container, pseudoRandom(4096, 3)]);
    const { cache, index, scanner } = await setup(image);
    scanner.start();
    // Data and parity first, metadata last.
    await cache.read(4096 + 3 * 512, container.length - 3 * 512);
    await cache.commitPending();
    await scanner.idle();
    await cache.read(0, image.length);
    await cache.commitPending();
    await scanner.idle();
    const counts = index.counts('A1A2A3A4A5A6', 17, index.maxId());
    // 3000 bytes = 7 chunks → 3 sets of 3 data (2 padding) + 2 parity each; 3 metadata copies.
    expect(counts).to.deep.equal({ meta: { blocks: 3, seqs: 1 }, data: { blocks: 9, seqs: 9 }, parity: { blocks: 6, seqs: 6 } });
    await scanner.stop();
  });

  it('records its scans in one transaction when arrivals pause, not per arrival, and what is left at stop()', async () => {
    const image = pseudoRandom(64 * 1024, 17);
    buildBlock(1, UID, 3, Buffer.alloc(1)).copy(image, 8192);
    buildBlock(1, UID, 4, Buffer.alloc(1)).copy(image, 49152);
    const db = new Database(':memory:');
    const mem = await memoryCache(image);
    const cache = mem.cache;
    const index = new BlockIndex(db);
    const scanner = new MediumScanner(cache, index, { recordQuietMs: 3_600_000 }); // no record for a pause
    let transactions = 0;
    const record = index.record.bind(index);
    index.record = (...args: Parameters<BlockIndex['record']>) => {
      transactions++;
      return record(...args);
    };
    scanner.start();
    for (let start = 0; start < 32 * 1024; start += 4096) {
      await cache.read(start, 4096);
      await cache.commitPending();
    }
    await scanner.idle(); // a listing waits: what was found is recorded now
    expect(transactions).to.equal(1);
    expect(index.blocksInSeqRange('A1A2A3A4A5A6', 1, 0, 10, index.maxId()).map((b) => b.offset)).to.deep.equal([8192]);
    await cache.read(32 * 1024, 32 * 1024);
    await cache.commitPending();
    while (scanner.progress().pendingBytes > 0) await new Promise((r) => setTimeout(r, 20));
    await scanner.stop(); // scanned, not recorded yet: stop() records it
    expect(transactions).to.equal(2);
    const again = new BlockIndex(db);
    expect(again.blocksInSeqRange('A1A2A3A4A5A6', 1, 0, 10, again.maxId()).map((b) => b.offset)).to.deep.equal([8192, 49152]);
    expect(again.scannedRanges()).to.deep.equal([{ start: 0, end: 64 * 1024 }]);
  });

  it('after a restart scans only what is cached but was never scanned', async () => {
    const image = pseudoRandom(64 * 1024, 13);
    buildBlock(1, UID, 1, Buffer.alloc(1)).copy(image, 2048);
    buildBlock(1, UID, 2, Buffer.alloc(1)).copy(image, 40960);
    const db = new Database(':memory:');
    const first = await setup(image, db);
    first.scanner.start();
    await first.cache.read(0, 8192);
    await first.cache.commitPending();
    await first.scanner.idle();
    await first.scanner.stop();
    // The second "mount" finds sectors cached without a scan (an import, or a crash before the scan).
    const second = await setup(image, db);
    await second.mem.seed(0, 16);
    await second.mem.seed(64, 32);
    let scannedReads = 0;
    const read = second.cache.readCachedInto.bind(second.cache);
    second.cache.readCachedInto = async (o: number, l: number, target: Buffer) => {
      scannedReads += l;
      return read(o, l, target);
    };
    second.scanner.start();
    await second.scanner.idle();
    expect(second.index.blocksInSeqRange('A1A2A3A4A5A6', 1, 0, 10, second.index.maxId()).map((b) => b.offset)).to.deep.equal([2048, 40960]);
    // Only [32768, 49152) plus the look-back/ahead windows inside cached runs was read, not [0, 8192) again.
    expect(scannedReads).to.be.lessThan(16384 + 2 * 4096);
    await second.scanner.stop();
  });

  it('a damaged chunk in the cache is scanned around, not stuck on: blocks before and after it are indexed, later arrivals too (review)', async () => {
    const image = pseudoRandom(64 * 1024, 17);
    for (const [seq, at] of [[1, 2048], [2, 40960], [3, 57344]]) buildBlock(1, UID, seq, Buffer.alloc(1)).copy(image, at);
    const { cache, index, scanner } = await setup(image);
    const read = cache.readCachedInto.bind(cache);
    // bytes [16384, 20480) fail their checksum, as the cache's fixity check answers for a damaged chunk
    cache.readCachedInto = async (o: number, l: number, target: Buffer) => {
      if (o < 20480 && o + l > 16384) throw new ChunkDamagedError(16384, 4096, 'do not match their checksum');
      return read(o, l, target);
    };
    scanner.start();
    await cache.read(0, 49152);
    await cache.commitPending();
    await scanner.idle();
    const found = () => index.blocksInSeqRange('A1A2A3A4A5A6', 1, 0, 10, index.maxId()).map((b) => b.offset);
    expect(found()).to.deep.equal([2048, 40960]);
    await cache.read(49152, 16384);
    await cache.commitPending();
    await scanner.idle();
    expect(found()).to.deep.equal([2048, 40960, 57344]);
    await scanner.stop();
  });

  describe('while a fast medium is read on a machine of few cores (the scan waits)', () => {
    const blockAt = async (offset: number, options: ScannerOptions) => {
      const image = pseudoRandom(64 * 1024, 23);
      buildBlock(1, UID, 5, Buffer.alloc(1)).copy(image, offset);
      const s = await setup(image, new Database(':memory:'), options);
      const scannedBytes = countScannedReads(s.cache);
      s.scanner.start();
      return { ...s, scannedBytes };
    };
    const offsetsFound = (index: BlockIndex) => index.blocksInSeqRange('A1A2A3A4A5A6', 1, 0, 10, index.maxId()).map((b) => b.offset);

    it('queues arrivals unscanned, and scans them once the reading slows, with no new arrival', async () => {
      let fast = true;
      const { cache, index, scanner, scannedBytes } = await blockAt(8192, { mustWait: () => fast, recheckMs: 50, recordQuietMs: 10 });
      await cache.read(0, 16384);
      await cache.commitPending();
      await sleep(300); // the 50 ms scan delay and several re-checks
      expect(scannedBytes()).to.equal(0);
      expect(scanner.progress()).to.include({ pendingBytes: 16384, waiting: true, scannedBytes: 0 });
      expect(offsetsFound(index)).to.deep.equal([]);
      fast = false; // the acquisition ended: nothing arrives any more
      await until(() => scanner.progress().blocksFound > 0);
      expect(scannedBytes()).to.equal(16384);
      expect(scanner.progress()).to.include({ pendingBytes: 0, waiting: false, scannedBytes: 16384 });
      expect(offsetsFound(index)).to.deep.equal([8192]);
      await scanner.stop();
    });

    it('a listing (idle()) scans what is queued at once and resolves with its blocks; later arrivals wait again', async () => {
      const { cache, index, scanner, scannedBytes } = await blockAt(8192, { mustWait: () => true, recheckMs: 3_600_000 });
      await cache.read(0, 16384);
      await cache.commitPending();
      await sleep(150);
      expect(scannedBytes()).to.equal(0);
      await scanner.idle();
      expect(offsetsFound(index)).to.deep.equal([8192]);
      expect(scanner.progress()).to.include({ pendingBytes: 0, scannedBytes: 16384, blocksFound: 1 });
      await cache.read(16384, 16384);
      await cache.commitPending();
      await sleep(150);
      expect(scannedBytes()).to.equal(16384);
      expect(scanner.progress()).to.include({ pendingBytes: 16384, waiting: true });
      await scanner.stop();
    });

    it('stop() returns at once and keeps the waiting ranges unmarked (the next start-up scans them)', async () => {
      const db = new Database(':memory:');
      const image = pseudoRandom(64 * 1024, 29);
      buildBlock(1, UID, 6, Buffer.alloc(1)).copy(image, 4096);
      const first = await setup(image, db, { mustWait: () => true, recheckMs: 3_600_000 });
      first.scanner.start();
      await first.cache.read(0, 8192);
      await first.cache.commitPending();
      await sleep(150);
      await first.scanner.stop();
      expect(new BlockIndex(db).scannedRanges()).to.deep.equal([]);
      const second = await setup(image, db, { mustWait: () => false });
      await second.mem.seed(0, 16);
      second.scanner.start();
      await second.scanner.idle();
      expect(offsetsFound(second.index)).to.deep.equal([4096]);
      await second.scanner.stop();
    });
  });
});
