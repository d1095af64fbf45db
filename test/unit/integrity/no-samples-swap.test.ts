// A cache made while its identity sectors were all unreadable (a drive still spinning up, a dirty first pass) has
// no identity samples. Another disc of the same size put in the drive afterwards must still be compared with what
// the cache holds, not adopted unseen: its bytes would be stored as this disc's (rule 1).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { spreadSampleSectors } from '../../../src/cache/medium-identity';
import { GuardedSource, MediumChangedError, MediumLook } from '../../../src/source/medium-watch';
import { Log } from '../../../src/server/log';
import { MediumFollower } from '../../../src/server/medium-follower';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/a cache without identity samples across a media change', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-no-samples-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("another disc of the same size is told apart by the sectors the cache holds, and none of its bytes is stored", async () => {
    const a = patternBuffer(SIZE, 21);
    const unreadable = [...Array.from({ length: 128 }, (_, s) => s), ...spreadSampleSectors(SIZE, 512)];
    const src = new MemorySource(Buffer.from(a), { badSectors: unreadable });
    let look: MediumLook = { token: 'disc-A', size: SIZE };
    const guarded = new GuardedSource(src, () => look, 'test drive');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c'), spreadSamples: true });
    try {
      expect(dev.identitySamples(), 'no identity sample could be read').to.deep.equal([]);
      const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
      src.badSectors.clear(); // the drive reads well now: the reader gets disc A's sector 1500
      expect((await dev.read(1500 * 512, 512)).data.equals(a.subarray(1500 * 512, 1501 * 512))).to.equal(true);
      // Disc B: same size, differs in sector 1500 (cached) and in sector 1600 (not read yet).
      const b = Buffer.from(a);
      b[1500 * 512] ^= 0xff;
      b[1600 * 512] ^= 0xff;
      b.copy(src.data);
      look = { token: 'disc-B', size: SIZE };
      guarded.poll();
      await follower.tick();
      expect(follower.status().lastVerdict).to.match(/another medium/);
      const r = await dev.read(1600 * 512, 512).catch((e: unknown) => e);
      expect(r, "disc B's sector served and stored as disc A's").to.be.instanceOf(MediumChangedError);
      expect(dev.statusAt(1600)).to.equal('?');
    } finally {
      await dev.close();
    }
  });
});
