import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache, OpenCacheOptions } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { CacheBusyError, CacheClosedError, CacheDamagedError, CacheMismatchError } from '../../../src/cache/errors';
import { parseMapfile } from '../../../src/cache/mapfile';
import { SourceLostError, TransientReadError } from '../../../src/source/block-source';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;

describe('cache/cached-device CachedDevice', () => {
  let tmp: string;
  const open: CachedDevice[] = [];
  beforeEach(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-cache-');
  });
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  async function openDev(src: MemorySource, extra: Partial<OpenCacheOptions> = {}): Promise<CachedDevice> {
    const dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c'), ...extra });
    open.push(dev);
    return dev;
  }
  async function reopen(dev: CachedDevice, src: MemorySource, extra: Partial<OpenCacheOptions> = {}) {
    await dev.close();
    open.splice(open.indexOf(dev), 1);
    return openDev(src, extra);
  }

  it('serves reads with the medium bytes and reads each sector from the device once', async () => {
    const img = patternBuffer(4 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    const a = await dev.read(100_000, 300_000);
    expect(a.errorAt).to.equal(undefined);
    expect(a.data.equals(img.subarray(100_000, 400_000))).to.equal(true);
    const b = await dev.read(0, 4 * MiB);
    expect(b.data.equals(img)).to.equal(true);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    const reads = src.stats().reads;
    await dev.read(12345, MiB);
    expect(src.stats().reads).to.equal(reads);
  });

  it("retire() (the mount follows the drive to another medium): a program's reads get ENOMEDIUM at once, cached bytes too; background reads go on", async () => {
    const img = patternBuffer(MiB);
    const dev = await openDev(new MemorySource(img));
    await dev.read(0, 64 * 1024);
    dev.retire();
    expect(() => dev.readInto(0, Buffer.alloc(4096))).to.throw(CacheClosedError);
    expect(await dev.read(0, 4096).then(() => 'read', (e: unknown) => e instanceof CacheClosedError)).to.equal(true);
    expect((await dev.read(0, 4096, 'background')).data.equals(img.subarray(0, 4096))).to.equal(true);
  });

  it("busyRateNow counts the last second's device reads and the readers' reads of cached bytes, so background work waits for both", async () => {
    const src = new MemorySource(patternBuffer(4 * MiB));
    const dev = await openDev(src, { readaheadBytes: 0 });
    const idle = dev.busyRateNow();
    await dev.read(MiB, MiB); // from the device
    expect(dev.busyRateNow() - idle).to.be.at.least(MiB);
    await new Promise((r) => setTimeout(r, 1100));
    expect(dev.busyRateNow()).to.equal(0);
    const reads = src.stats().reads;
    const target = Buffer.alloc(MiB);
    for (let i = 0; i < 8; i++) await dev.readInto(MiB, target); // a reader copying cached bytes: no device read
    expect(src.stats().reads).to.equal(reads);
    expect(dev.busyRateNow()).to.be.at.least(8 * MiB);
    await new Promise((r) => setTimeout(r, 1100));
    expect(dev.busyRateNow()).to.equal(0);
  });

  it('stores the fingerprint window on creation, so those sectors are never read again', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    expect(dev.status().bytesCached).to.equal(64 * 1024);
    expect(dev.status().identityProbe).to.deep.equal({ method: 'created', sectors: 0, bytes: 0 });
    await dev.read(0, 64 * 1024);
    expect(src.readsOfSector(0)).to.equal(1);
  });

  it('concurrent readers of the same missing sectors share one device read', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img, { delayMs: 20 });
    const dev = await openDev(src);
    const results = await Promise.all([
      dev.read(MiB, 256 * 1024),
      dev.read(MiB + 4096, 256 * 1024),
      dev.read(MiB - 8192, 64 * 1024),
      dev.read(MiB, 256 * 1024),
    ]);
    expect(results[0].data.equals(img.subarray(MiB, MiB + 256 * 1024))).to.equal(true);
    expect(results[1].data.equals(img.subarray(MiB + 4096, MiB + 4096 + 256 * 1024))).to.equal(true);
    expect(results[2].data.equals(img.subarray(MiB - 8192, MiB - 8192 + 64 * 1024))).to.equal(true);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('answers a reader once the bytes are written; "+" only after the commit; until then the sectors are served from the flight', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    const a = await dev.read(MiB, 128 * 1024);
    expect(a.data.equals(img.subarray(MiB, MiB + 128 * 1024))).to.equal(true);
    expect(dev.statusAt(MiB / 512), 'not recorded before fdatasync + commit').to.equal('?');
    const reads = src.stats().reads;
    const b = await dev.read(MiB + 1000, 64 * 1024);
    expect(b.data.equals(img.subarray(MiB + 1000, MiB + 1000 + 64 * 1024))).to.equal(true);
    expect(src.stats().reads, 'served the same bytes, no second device read').to.equal(reads);
    await dev.flush();
    expect(dev.statusAt(MiB / 512)).to.equal('+');
    expect(dev.statusAt(MiB / 512 + 255)).to.equal('+');
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('close() waits for commits still pending: after reopening, what readers got is "+" and not read again', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img);
    const dev0 = await openDev(src);
    for (let off = MiB; off < 2 * MiB; off += 128 * 1024) await dev0.read(off, 128 * 1024);
    const dev = await reopen(dev0, src);
    expect(dev.runAt(MiB / 512)).to.deep.include({ status: '+' });
    expect(dev.runAt(MiB / 512).start + dev.runAt(MiB / 512).count).to.equal((2 * MiB) / 512);
    src.resetCounts();
    expect((await dev.read(MiB, MiB)).data.equals(img.subarray(MiB))).to.equal(true);
    expect(src.stats().reads).to.equal(0);
  });

  it('narrows a failing read to the bad sector: good prefix, errorAt, exact "-" in the mapfile', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [300, 301] });
    const dev = await openDev(src);
    const r = await dev.read(256 * 512, 128 * 1024);
    expect(r.errorAt).to.equal(300 * 512);
    expect(r.data.equals(img.subarray(256 * 512, 300 * 512))).to.equal(true);
    const blocks = parseMapfile(dev.mapfileText()).blocks;
    expect(blocks.filter((b) => b.status === '-')).to.deep.equal([{ pos: 300 * 512, size: 512, status: '-' }]);
    // the sectors after the first bad one were only part of a failed read: non-trimmed, not bad
    expect(dev.statusAt(301)).to.equal('*');
    expect(dev.statusAt(302)).to.equal('*');
    // a later read starting after the bad sector tries them sector-wise: 301 is bad, 302... are good
    const r2 = await dev.read(301 * 512, 4096);
    expect(r2.errorAt).to.equal(301 * 512);
    const r3 = await dev.read(302 * 512, 4096);
    expect(r3.errorAt).to.equal(undefined);
    expect(r3.data.equals(img.subarray(302 * 512, 302 * 512 + 4096))).to.equal(true);
  });

  it('uses the device error offset to read the good prefix in one request', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [1000], reportErrorOffset: true });
    const dev = await openDev(src);
    src.resetCounts();
    const r = await dev.read(512 * 512, 512 * 1024);
    expect(r.errorAt).to.equal(1000 * 512);
    expect(r.data.length).to.equal((1000 - 512) * 512);
    expect(src.log.map((l) => [l.offset / 512, l.length / 512, l.ok])).to.deep.equal([
      [512, 1024, false],
      [512, 488, true],
      [1000, 1, false],
    ]);
  });

  it('never reads a bad sector again without retries; with retries, at most N more times across reopens', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [500] });
    let dev = await openDev(src);
    await dev.read(500 * 512, 512);
    await dev.read(500 * 512, 512);
    expect(src.readsOfSector(500)).to.equal(1);
    dev = await reopen(dev, src, { retries: 2 });
    expect((await dev.read(500 * 512, 512)).errorAt).to.equal(500 * 512);
    dev = await reopen(dev, src, { retries: 2 });
    await dev.read(500 * 512, 512);
    await dev.read(500 * 512, 512);
    expect(src.readsOfSector(500)).to.equal(3);
    expect(dev.triesAt(500)).to.equal(2);
  });

  it('a retry that succeeds turns the sector "+"', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [500] });
    const dev0 = await openDev(src, { retries: 1 });
    await dev0.read(500 * 512, 512);
    src.badSectors.clear();
    const dev = await reopen(dev0, src, { retries: 1 });
    const r = await dev.read(500 * 512, 512);
    expect(r.errorAt).to.equal(undefined);
    expect(r.data.equals(img.subarray(500 * 512, 501 * 512))).to.equal(true);
    expect(dev.statusAt(500)).to.equal('+');
  });

  it('a lost source marks nothing and cached data keeps being served', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    await dev.read(128 * 1024, 64 * 1024);
    src.lost = true;
    let err: unknown;
    await dev.read(256 * 1024, 64 * 1024).catch((e) => (err = e));
    expect(err).to.be.instanceOf(SourceLostError);
    expect(dev.statusAt(512)).to.equal('?');
    const cached = await dev.read(128 * 1024, 64 * 1024);
    expect(cached.data.equals(img.subarray(128 * 1024, 192 * 1024))).to.equal(true);
    src.lost = false;
    const again = await dev.read(256 * 1024, 64 * 1024);
    expect(again.data.equals(img.subarray(256 * 1024, 320 * 1024))).to.equal(true);
  });

  it('a transient server failure marks nothing: the sectors stay untried and the next read reads them, once', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    src.transient = 'ENOMEM';
    for (const len of [512, 64 * 1024]) {
      const err = await dev.read(256 * 1024, len).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TransientReadError);
    }
    for (let s = 512; s < 640; s++) expect(dev.statusAt(s), `sector ${s}`).to.equal('?');
    expect(dev.status().bytesBad + dev.status().bytesNonTrimmed).to.equal(0);
    src.transient = undefined;
    const r = await dev.read(256 * 1024, 64 * 1024);
    expect(r.errorAt).to.equal(undefined);
    expect(r.data.equals(img.subarray(256 * 1024, 320 * 1024))).to.equal(true);
    await dev.read(256 * 1024, 64 * 1024);
    expect(src.log.filter((x) => x.ok && x.offset + x.length > 256 * 1024)).to.deep.equal([{ offset: 256 * 1024, length: 64 * 1024, ok: true }]);
  });

  it('clamps at the end of the medium, including a partial last sector', async () => {
    const img = patternBuffer(100_000 + 300);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    const r = await dev.read(99_000, 10_000);
    expect(r.data.equals(img.subarray(99_000))).to.equal(true);
    expect((await dev.read(img.length, 10)).data.length).to.equal(0);
    expect(dev.status().bytesCached + dev.status().bytesUntried).to.equal(img.length);
    const blocks = parseMapfile(dev.mapfileText()).blocks;
    const last = blocks[blocks.length - 1];
    expect(last.pos + last.size).to.equal(img.length);
  });

  it('splits device reads at maxReadBytes', async () => {
    const src = new MemorySource(patternBuffer(4 * MiB));
    const dev = await openDev(src, { maxReadBytes: 256 * 1024 });
    await dev.read(MiB, 2 * MiB);
    expect(Math.max(...src.log.map((l) => l.length))).to.equal(256 * 1024);
  });

  it('persists state: after reopen nothing cached is read again, and the probe re-reads only a few sectors', async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img);
    let dev = await openDev(src);
    await dev.read(0, 2 * MiB);
    src.resetCounts();
    dev = await reopen(dev, src);
    const probe = dev.status().identityProbe;
    expect(probe.method).to.equal('probe');
    expect(probe.bytes).to.be.at.most(8192).and.at.least(512);
    expect(src.stats().bytes).to.equal(probe.bytes);
    const r = await dev.read(0, 2 * MiB);
    expect(r.data.equals(img)).to.equal(true);
    expect(src.stats().bytes).to.equal(probe.bytes);
  });

  it('a stable identity of the source lets a reopen skip the probe', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    let dev = await openDev(src, { stableIdentity: 'dev:ino:size:mtime' });
    src.resetCounts();
    dev = await reopen(dev, src, { stableIdentity: 'dev:ino:size:mtime' });
    expect(dev.status().identityProbe).to.deep.equal({ method: 'stable-identity', sectors: 0, bytes: 0 });
    expect(src.stats().reads).to.equal(0);
  });

  it('a cache whose data file was deleted or shortened refuses to open (CacheDamagedError) instead of serving zeros', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    const dev = await openDev(src, { stableIdentity: 'dev:ino:size:mtime' });
    await dev.read(0, MiB);
    await dev.close();
    open.length = 0;
    const data = path.join(tmp, 'c', 'data.img');
    fs.truncateSync(data, MiB / 2);
    let err: unknown;
    await openDev(src, { stableIdentity: 'dev:ino:size:mtime' }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(CacheDamagedError);
    expect((err as Error).message).to.match(/data\.img has 524288 bytes, but rescued sectors reach byte 1048576/);
    fs.rmSync(data);
    err = undefined;
    await openDev(src, { stableIdentity: 'dev:ino:size:mtime' }).catch((e) => (err = e));
    expect((err as Error).message).to.match(/data file data\.img is missing/);
    expect(fs.existsSync(data)).to.equal(false);
  });

  it('an explicit cache of another medium is a CacheMismatchError (size or content)', async () => {
    const dev = await openDev(new MemorySource(patternBuffer(MiB, 1)));
    await dev.close();
    open.length = 0;
    let err: unknown;
    await openDev(new MemorySource(patternBuffer(2 * MiB, 1))).catch((e) => (err = e));
    expect(err).to.be.instanceOf(CacheMismatchError);
    expect((err as Error).message).to.match(/1048576 bytes.*2097152 bytes/);
    err = undefined;
    await openDev(new MemorySource(patternBuffer(MiB, 2))).catch((e) => (err = e));
    expect(err).to.be.instanceOf(CacheMismatchError);
    expect((err as Error).message).to.match(/differs/);
  });

  it('identifies a medium whose sector 0 is unreadable', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [0] });
    let dev = await openDev(src);
    expect(dev.statusAt(0)).to.equal('-');
    expect(dev.statusAt(1)).to.equal('+');
    dev = await reopen(dev, src);
    expect(dev.status().identityProbe.method).to.equal('probe');
    await dev.close();
    open.length = 0;
    let err: unknown;
    await openDev(new MemorySource(patternBuffer(MiB, 9), { badSectors: [0] })).catch((e) => (err = e));
    expect(err).to.be.instanceOf(CacheMismatchError);
  });

  it('default cache root: swapping media gives each its own cache, and the right one is found again', async () => {
    const root = path.join(tmp, 'root');
    const a = new MemorySource(patternBuffer(MiB, 1));
    const b = new MemorySource(patternBuffer(MiB, 2));
    const devA = await openCache({ source: a, cacheRoot: root });
    await devA.read(0, MiB);
    await devA.close();
    const devB = await openCache({ source: b, cacheRoot: root });
    expect(devB.cacheDir).to.not.equal(devA.cacheDir);
    await devB.close();
    a.resetCounts();
    const devA2 = await openCache({ source: a, cacheRoot: root });
    open.push(devA2);
    expect(devA2.cacheDir).to.equal(devA.cacheDir);
    expect((await devA2.read(0, MiB)).data.equals(a.data)).to.equal(true);
    expect(a.stats().bytes).to.be.at.most(8192);
  });

  it('a cache in use by another process is refused with CacheBusyError', async () => {
    await openDev(new MemorySource(patternBuffer(MiB)));
    let err: unknown;
    await openCache({ source: new MemorySource(patternBuffer(MiB)), cacheDir: path.join(tmp, 'c') }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(CacheBusyError);
  });

  it('reports sectors newly cached, after they are committed', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    const dev = await openDev(src);
    const seen: [number, number][] = [];
    dev.onSectorsCached((o, l) => seen.push([o, l]));
    await dev.read(128 * 1024, 4096);
    expect(seen, 'the reader is answered before the commit').to.deep.equal([]);
    await dev.flush();
    expect(seen).to.deep.equal([[128 * 1024, 4096]]);
  });

  it('lets other layers keep tables and settings in the same database', async () => {
    let dev = await openDev(new MemorySource(patternBuffer(MiB)));
    dev.database().exec('CREATE TABLE IF NOT EXISTS sbx_blocks (uid TEXT, seq INTEGER, offset INTEGER)');
    dev.database().prepare('INSERT INTO sbx_blocks VALUES (?, ?, ?)').run('abc', 1, 4096);
    dev.setSetting('sbx.uid', '0102030405AA');
    const src = new MemorySource(patternBuffer(MiB));
    dev = await reopen(dev, src);
    expect(dev.database().prepare('SELECT count(*) AS n FROM sbx_blocks').get()).to.deep.equal({ n: 1 });
    expect(dev.getSetting('sbx.uid')).to.equal('0102030405AA');
  });

  it('status() counts device reads, bytes and failures', async () => {
    const src = new MemorySource(patternBuffer(MiB), { badSectors: [400] });
    const dev = await openDev(src);
    await dev.read(300 * 512, 200 * 512);
    const st = dev.status();
    expect(st.bytesBad).to.equal(512);
    expect(st.deviceFailedReads).to.equal(2);
    expect(st.deviceBytes).to.equal(src.stats().bytes);
    expect(st.phase).to.equal('?');
    expect(st.pass).to.equal(1);
  });

  it("status() reports the source's lost and reconnected events", async () => {
    const src = new MemorySource(patternBuffer(MiB));
    const dev = await openDev(src);
    expect(dev.status().source).to.deep.equal({ state: 'connected', lostEvents: 0, reconnects: 0 });
    src.emit({ type: 'lost', message: 'source x lost: nbdkit exited' });
    expect(dev.status().source).to.deep.equal({ state: 'lost', lostEvents: 1, reconnects: 0, lastEvent: 'source x lost: nbdkit exited' });
    src.emit({ type: 'reconnected', message: 'reconnected to source x' });
    expect(dev.status().source).to.deep.include({ state: 'connected', lostEvents: 1, reconnects: 1 });
  });

  it('status() counts the reads the server failed for a passing reason apart from media failures', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    const dev = await openDev(src);
    expect(dev.status().deviceTransientReads).to.equal(0);
    src.transient = 'ENOMEM';
    for (let i = 0; i < 3; i++) await dev.read(256 * 1024, 4096).catch(() => undefined);
    src.transient = undefined;
    const st = dev.status();
    expect(st.deviceTransientReads).to.equal(3);
    expect(st.deviceFailedReads).to.equal(0);
  });

  it('counts identity probes, reads and readahead in the same device read counters', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    const dev = await openDev(src);
    await dev.read(200 * 1024, 4096);
    const st = dev.status();
    expect(st.deviceReads).to.equal(src.stats().reads + src.stats().failedReads);
    expect(st.deviceBytes).to.equal(64 * 1024 + 4096); // the fingerprint window, then the read
  });
});
