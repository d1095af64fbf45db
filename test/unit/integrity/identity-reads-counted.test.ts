// The identity check is the one deliberate exception to "each sector read once", so /status counts every sector
// it reads again (medium.identitySectorsRead, as README.md says) — also when the sectors read tell another disc apart.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { GuardedSource, MediumLook } from '../../../src/source/medium-watch';
import { Log } from '../../../src/server/log';
import { MediumFollower } from '../../../src/server/medium-follower';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/identity sectors read at a media change are counted', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-identity-counted-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('another disc told apart at its first differing sample: the samples read for it are in identitySectorsRead, as device reads', async () => {
    const a = patternBuffer(SIZE, 7);
    const src = new MemorySource(Buffer.from(a));
    let look: MediumLook = { token: 'disc-A', size: SIZE };
    const guarded = new GuardedSource(src, () => look, 'test drive');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c'), spreadSamples: true });
    try {
      const samples = dev.identitySamples();
      expect(samples.length).to.be.greaterThan(2);
      const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
      const b = Buffer.from(a);
      b[samples[2] * 512] ^= 0xff; // disc B: equal in the first two samples, differs in the third
      b.copy(src.data);
      look = { token: 'disc-B', size: SIZE };
      const readsBefore = src.log.length;
      guarded.poll();
      await follower.tick();
      const st = follower.status();
      expect(st.lastVerdict).to.match(/another medium/);
      const identityReads = src.log.length - readsBefore;
      expect(identityReads, 'the comparison read the samples up to the differing one').to.equal(3);
      expect(st.identitySectorsRead).to.equal(identityReads);
      expect(st.identityBytesRead).to.equal(identityReads * 512);
    } finally {
      await dev.close();
    }
  });
});
