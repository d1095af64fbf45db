// The medium guard under the cache: a device read that raced a media change is never taken for the medium being
// served, neither its bytes nor its failure (a read that fails because the disc left the drive says nothing
// about the disc's sectors).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { GuardedSource, MediumChangedError, MediumLook } from '../../../src/source/medium-watch';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const SIZE = 1024 * 1024;

describe('integrity/guarded reads (a read racing a media change)', () => {
  let tmp: string;
  const open: CachedDevice[] = [];
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-guarded-'))));
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A cache over a guarded memory "drive" whose token the test changes. */
  async function drive(img: Buffer) {
    const src = new MemorySource(img, { delayMs: 20 });
    let look: MediumLook = { token: 'disc-A', size: img.length };
    const guarded = new GuardedSource(src, () => look, 'test drive');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c') });
    open.push(dev);
    return { src, guarded, dev, setLook: (l: MediumLook) => (look = l) };
  }

  for (const [what, look] of [
    ['the drive emptied', { token: null }],
    ['another disc inserted', { token: 'disc-B', size: SIZE }],
  ] as const) {
    it(`a read that fails because ${what} while it ran marks nothing bad (the sector stays untried)`, async () => {
      const { src, dev, setLook } = await drive(patternBuffer(SIZE, 7));
      const sector = 1000; // past the identity window: untried
      const reading = dev.read(sector * 512, 512);
      // The disc leaves while the read is under way: the device answers EIO (as nbdkit does for an empty drive).
      setLook(look);
      src.badSectors.add(sector);
      const err = await reading.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(MediumChangedError);
      expect(dev.statusAt(sector), 'a good sector of disc A must not become "-"').to.equal('?');
      await dev.flush();
      expect(dev.statusAt(sector)).to.equal('?');
    });
  }
});
