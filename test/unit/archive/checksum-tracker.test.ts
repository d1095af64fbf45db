import { expect } from 'chai';
import { ChecksumTracker, settledPrefixBytes, stillBad } from '../../../src/archive/checksum-tracker';
import { checksumsText } from '../../../src/archive/checksums-text';
import { ChecksumStore } from '../../../src/archive/checksum-store';
import { WorkerHasher } from '../../../src/archive/image-hasher';
import { Worker } from 'worker_threads';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';
import { digestsOf } from '../../helpers/image-digests';
import { patternBuffer } from '../../helpers/memory-source';

const MiB = 1 << 20;

describe('archive/checksum-tracker ChecksumTracker', () => {
  let tracker: ChecksumTracker | undefined;
  afterEach(async () => {
    await tracker?.stop();
    tracker = undefined;
    await closeMemoryCaches();
  });

  it('hashes the image (bad sectors as zeros) as the settled prefix grows, without reading the device', async () => {
    const img = patternBuffer(3 * MiB + 1000); // a partial last sector
    const bad = [2048, 2049, 4000]; // sectors
    const mem = await memoryCache(img, { badSectors: bad });
    const dev = mem.cache;
    const src = mem.source;
    tracker = new ChecksumTracker(dev).start();
    await dev.read(0, MiB); // only the first MiB settled
    await new Promise((r) => setTimeout(r, 600));
    const partial = tracker.state();
    expect(partial.complete).to.equal(false);
    expect(partial.bytesHashed).to.equal(MiB);
    expect(partial.bytesMissing).to.equal(img.length - MiB);
    expect(checksumsText('medium.img', partial)).to.match(/incomplete: \d+ bytes missing/);
    // Every byte hashed, the digests not out yet: not "0 bytes missing".
    const finishing = { ...partial, bytesHashed: img.length, bytesMissing: 0 };
    expect(checksumsText('medium.img', finishing)).to.contain(`# incomplete: every byte hashed (${img.length}), the digests follow in a moment`);

    const readsBefore = src.stats().reads + src.stats().failedReads;
    await dev.acquire();
    const readsByAcquire = src.stats().reads + src.stats().failedReads - readsBefore;
    const done = await tracker.whenComplete();
    expect(src.stats().reads + src.stats().failedReads - readsBefore).to.equal(readsByAcquire); // the tracker read nothing
    const expected = Buffer.from(img);
    for (const s of bad) expected.fill(0, s * 512, s * 512 + 512);
    expect(done).to.deep.equal(digestsOf(expected));
    expect(tracker.state().bytesBad).to.equal(3 * 512);
  });

  it('keeps finished checksums with the medium state: a later tracker on the same state shows them at once', async () => {
    const img = patternBuffer(MiB);
    const mem = await memoryCache(img, { badSectors: [7] });
    const store = new ChecksumStore(mem.cache.database());
    tracker = new ChecksumTracker(mem.cache, undefined, store).start();
    await mem.cache.acquire();
    const first = await tracker.whenComplete();
    await tracker.stop();
    tracker = new ChecksumTracker(mem.cache, undefined, store).start();
    expect(tracker.state()).to.deep.include({ complete: true, bytesBad: 512, digests: first });
  });

  it('waits while told to (a fast medium being read), then catches up from the cache alone', async () => {
    const img = patternBuffer(2 * MiB);
    const mem = await memoryCache(img, {});
    let fastReading = true;
    tracker = new ChecksumTracker(mem.cache, undefined, undefined, undefined, () => fastReading).start();
    await mem.cache.acquire();
    const reads = mem.source.stats().reads;
    await new Promise((r) => setTimeout(r, 500));
    expect(tracker.state()).to.include({ bytesHashed: 0, waiting: true });
    expect(checksumsText('medium.img', tracker.state())).to.contain('the hashing waits while the medium is read fast');
    fastReading = false;
    expect(await tracker.whenComplete()).to.deep.equal(digestsOf(img));
    expect(mem.source.stats().reads).to.equal(reads);
  });

  it('hashes in a worker thread that stop() ends', async () => {
    const img = patternBuffer(MiB);
    const mem = await memoryCache(img, { badSectors: [3] });
    const started: WorkerHasher[] = [];
    tracker = new ChecksumTracker(mem.cache, undefined, undefined, () => {
      const h = WorkerHasher.start()!;
      started.push(h);
      return h;
    }).start();
    await mem.cache.acquire();
    expect(await tracker.whenComplete()).to.deep.equal(digestsOf(Buffer.from(img).fill(0, 3 * 512, 4 * 512)));
    expect(started.length).to.equal(1);
    expect(started[0].running).to.equal(true);
    await tracker.stop();
    expect(started[0].running).to.equal(false);
  });

  it('a worker that dies mid-image: hashed again from the start (on the server thread after two deaths), digests exact', async () => {
    const img = patternBuffer(10 * MiB + 512);
    const mem = await memoryCache(img, { badSectors: [9000, 9001] });
    const logs: string[] = [];
    let workers = 0;
    // Every worker dies after its second buffer, as a crash would.
    const dying = () => {
      workers++;
      const h = WorkerHasher.start()!;
      const feed = h.feed.bind(h);
      let fed = 0;
      h.feed = async (buffer: Buffer, length: number) => {
        await feed(buffer, length);
        if (++fed === 2) (h as unknown as { worker: Worker }).worker.postMessage({ kind: 'bytes', buffer: null, length: 1 });
      };
      return h;
    };
    tracker = new ChecksumTracker(mem.cache, (m) => logs.push(m), undefined, dying).start();
    await mem.cache.acquire();
    const expected = Buffer.from(img).fill(0, 9000 * 512, 9002 * 512);
    expect(await tracker.whenComplete()).to.deep.equal(digestsOf(expected));
    expect(workers).to.equal(2);
    expect(logs.filter((l) => /checksum worker .*hashing the image again/.test(l))).to.have.length(2);
    expect(logs.some((l) => /on the server thread/.test(l))).to.equal(true);
    expect(tracker.state().bytesBad).to.equal(1024);
  });

  it('settled prefix and bad-run checks', () => {
    const ext = [
      { start: 0, count: 10, status: '+' as const },
      { start: 10, count: 2, status: '-' as const },
      { start: 12, count: 5, status: '*' as const },
    ];
    expect(settledPrefixBytes(ext, 512, 17 * 512)).to.equal(12 * 512);
    expect(stillBad(ext, [{ start: 10, count: 2 }])).to.equal(true);
    expect(stillBad(ext, [{ start: 9, count: 2 }])).to.equal(false);
  });
});
