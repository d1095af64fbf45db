import { expect } from 'chai';
import Database from 'better-sqlite3';
import { buildBlock } from '../../../src/sbx/format/header';
import { BlockIndex } from '../../../src/views/rescued/block-index';
import { MediumScanner } from '../../../src/views/rescued/medium-scanner';
import { makeContainer, pseudoRandom } from './containers';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

const UID = Buffer.from('a1a2a3a4a5a6', 'hex');

async function setup(image: Buffer, db = new Database(':memory:')) {
  const mem = await memoryCache(image);
  const index = new BlockIndex(db);
  const scanner = new MediumScanner(mem.cache, index);
  return { mem, cache: mem.cache, index, scanner, db };
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
    const scanner = new MediumScanner(cache, index, undefined, 3_600_000); // no record for a pause
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
});
