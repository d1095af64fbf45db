import { expect } from 'chai';
import { createHash } from 'crypto';
import { crc32 } from 'zlib';
import { ChecksumTracker, settledPrefixBytes, stillBad } from '../../../src/archive/checksum-tracker';
import { checksumsText } from '../../../src/archive/checksums-text';
import { ChecksumStore } from '../../../src/archive/checksum-store';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';
import { patternBuffer } from '../../helpers/memory-source';

const MiB = 1 << 20;

function digestsOf(b: Buffer) {
  return {
    crc32: (crc32(b) >>> 0).toString(16).padStart(8, '0'),
    md5: createHash('md5').update(b).digest('hex'),
    sha1: createHash('sha1').update(b).digest('hex'),
    sha256: createHash('sha256').update(b).digest('hex'),
  };
}

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
