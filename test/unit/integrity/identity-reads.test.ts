// First contact with a medium: the sectors read to compare it with other caches of its size are the ones its own
// cache then stores (fingerprint window, spread samples): each is read from the device once.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

describe('integrity/identity reads on first contact', () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-identity-reads-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a twin of a known disc (equal first MiB) gets its own cache and no sector of it is read twice', async () => {
    const a = patternBuffer(4 * 1024 * 1024, 1);
    const b = Buffer.from(a);
    for (let i = 1024 * 1024; i < b.length; i += 4096) b[i] ^= 1;
    const devA = await openCache({ source: new MemorySource(a), cacheRoot: root, spreadSamples: true });
    await devA.close();
    const srcB = new MemorySource(b);
    const devB = await openCache({ source: srcB, cacheRoot: root, spreadSamples: true });
    try {
      expect(devB.cacheDir).to.not.equal(devA.cacheDir);
      const twice = Array.from({ length: b.length / 512 }, (_, s) => s).filter((s) => srcB.readsOfSector(s) > 1);
      expect(twice, 'sectors read more than once').to.deep.equal([]);
      // what it stored is the twin's own bytes
      expect((await devB.read(0, 64 * 1024)).data.equals(b.subarray(0, 64 * 1024))).to.equal(true);
      for (const s of devB.identitySamples()) expect((await devB.read(s * 512, 512)).data.equals(b.subarray(s * 512, s * 512 + 512))).to.equal(true);
      expect(srcB.maxReadsOfGoodSector()).to.equal(1);
    } finally {
      await devB.close();
    }
  });
});
