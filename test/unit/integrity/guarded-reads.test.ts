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
import { Log } from '../../../src/server/log';
import { MediumFollower } from '../../../src/server/medium-follower';
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

  it('an identification whose samples came from two connections (a reconnect to another disc midway) is not accepted', async () => {
    const a = patternBuffer(SIZE, 8);
    const src = new MemorySource(Buffer.from(a));
    const guarded = new GuardedSource(src, () => ({ token: 'nbd' }), 'nbd://test');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c'), spreadSamples: true });
    open.push(dev);
    // Disc B: disc A but for its first identity sample and one sector nobody has read yet.
    const samples = dev.identitySamples();
    const unread = 1500;
    expect(dev.statusAt(unread)).to.equal('?');
    const b = Buffer.from(a);
    b[samples[0] * 512] ^= 0xff;
    b[unread * 512] ^= 0xff;
    const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
    src.emit({ type: 'lost', message: 'connection lost (test)' });
    expect(guarded.current).to.equal('changed');
    // The first sample is read on a connection to disc A; then the server comes back serving disc B.
    let identityReads = 0;
    (src as unknown as { opts: { onRead?: () => void } }).opts.onRead = () => {
      if (++identityReads !== 2) return;
      b.copy(src.data);
      src.emit({ type: 'reconnected', message: 'reconnected (test)' });
    };
    await follower.tick();
    const r = await dev.read(unread * 512, 512).catch((e: unknown) => e);
    if (!(r instanceof Error)) {
      expect((r as { data: Buffer }).data.equals(a.subarray(unread * 512, unread * 512 + 512)), "disc B's bytes served (and stored) as disc A's").to.equal(true);
    }
    // Looked at again on one connection, disc B is told apart: refused (this cache is kept for disc A).
    expect(r).to.be.instanceOf(MediumChangedError);
    await dev.flush();
    expect(dev.statusAt(unread)).to.equal('?');
  });

  it('a medium none of whose identity samples can be read is refused, and not read again at every look until the drive changes', async () => {
    const a = patternBuffer(SIZE, 10);
    const src = new MemorySource(Buffer.from(a));
    let look: MediumLook = { token: 'disc-A', size: SIZE };
    const guarded = new GuardedSource(src, () => look, 'test drive');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c'), spreadSamples: true });
    open.push(dev);
    const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
    look = { token: null };
    guarded.poll();
    expect(guarded.current).to.equal('absent');
    // A disc comes back whose sampled sectors all fail (a failing drive, a dirty disc).
    for (const s of dev.identitySamples()) src.badSectors.add(s);
    look = { token: 'disc-A again', size: SIZE };
    guarded.poll();
    src.resetCounts();
    await follower.tick();
    const readsOfFirstLook = src.log.length;
    expect(readsOfFirstLook, 'the first look reads the samples').to.be.above(0);
    expect(follower.status().lastVerdict).to.match(/cannot identify the medium.*looking again in 1 s/);
    // Readers and the timer meanwhile: refused at once, the drive is left alone.
    const r = await dev.read(1500 * 512, 512).catch((e: unknown) => e);
    expect(r).to.be.instanceOf(MediumChangedError);
    await follower.tick();
    expect(src.log.length, 'no sample read again during the pause').to.equal(readsOfFirstLook);
    // The drive changes (the disc cleaned and put back): looked at at once, and served again.
    src.badSectors.clear();
    look = { token: 'disc-A cleaned', size: SIZE };
    guarded.poll();
    await follower.tick();
    expect(guarded.current).to.equal('present');
    const back = await dev.read(1500 * 512, 512);
    expect(back.data.equals(a.subarray(1500 * 512, 1501 * 512))).to.equal(true);
  });

  it('a reconnect to the same disc between identity samples costs a second look, not the waiting reader an error', async () => {
    const a = patternBuffer(SIZE, 9);
    const src = new MemorySource(Buffer.from(a));
    const guarded = new GuardedSource(src, () => ({ token: 'nbd' }), 'nbd://test');
    const dev = await openCache({ source: guarded, cacheDir: path.join(tmp, 'c'), spreadSamples: true });
    open.push(dev);
    const follower = new MediumFollower(guarded, dev, { follow: false, log: new Log('error'), onOtherMedium: () => undefined });
    src.emit({ type: 'lost', message: 'connection lost (test)' });
    let reads = 0;
    (src as unknown as { opts: { onRead?: () => void } }).opts.onRead = () => {
      if (++reads === 2) src.emit({ type: 'reconnected', message: 'reconnected (test)' });
    };
    const unread = 1500;
    const r = await dev.read(unread * 512, 512); // waits for the identification, then reads
    expect(r.data.equals(a.subarray(unread * 512, unread * 512 + 512))).to.equal(true);
    expect(guarded.current).to.equal('present');
    expect(follower.status().identifications).to.equal(2);
  });
});
