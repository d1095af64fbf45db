import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { ImportError } from '../../../src/cache/errors';
import { UserError } from '../../../src/errors';
import { exportImage, importRescue } from '../../../src/cache/import-export';
import { imageOfKeptMap } from '../../../src/cache/kept-image-map';
import { MapfileError, parseMapfile } from '../../../src/cache/mapfile';
import { attachLoop, detachLoop } from '../../helpers/loop-device';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;

describe('cache/import-export', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-import-')));
  afterEach(async () => {
    await dev?.close();
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const write = (name: string, data: string | Buffer) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, data);
    return f;
  };

  it("imports the '+' areas of a ddrescue rescue and its bad areas: neither is read from the device", async () => {
    const img = patternBuffer(2 * MiB);
    const src = new MemorySource(img);
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const rescue = Buffer.from(img);
    rescue.fill(0xee, 0x100000, 0x110000); // inside a '-' area of the map: must not be imported
    const image = write('rescue.img', rescue);
    const map = write('rescue.map', '0x0 + 1\n0x00000000 0x00100000 +\n0x00100000 0x00010000 -\n0x00110000 0x000F0000 +\n');
    src.resetCounts();
    const r = await importRescue(dev, image, map);
    expect(r.bytesImported).to.equal(2 * MiB - 0x10000 - 64 * 1024); // minus the '-' area and the window already cached
    expect(r.bytesAlreadyCached).to.equal(64 * 1024);
    expect(r.bytesMarkedBad).to.equal(0x10000);
    expect(dev.statusAt(0x100000 / 512)).to.equal('-');
    const all = await dev.read(0, 2 * MiB);
    expect(all.errorAt).to.equal(0x100000); // a bad sector ddrescue found: not read again without retries
    expect(all.data.equals(img.subarray(0, 0x100000))).to.equal(true);
    expect((await dev.read(0x110000, 2 * MiB - 0x110000)).data.equals(img.subarray(0x110000))).to.equal(true);
    expect(src.stats()).to.deep.include({ reads: 0, failedReads: 0 });
  });

  it('an image that disagrees with what the cache holds is refused whole: another medium\'s bytes are never imported', async () => {
    const img = patternBuffer(2 * MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') }); // holds the first 64 KiB
    const other = Buffer.from(img);
    other[1000] ^= 0xff; // inside the cached window
    const image = write('other.img', other);
    const map = write('other.map', '0x0 + 1\n0x00000000 0x00200000 +\n');
    let err: unknown;
    await importRescue(dev, image, map).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ImportError);
    expect((err as Error).message).to.match(/differs from the cache in 1 byte its .*first at byte 1000.*nothing was imported/);
    expect(dev.status().bytesCached).to.equal(64 * 1024);
  });

  it("with the medium at hand, a rescue that lacks the medium's start is compared with a few sectors read from it: another disc's is refused", async () => {
    const img = patternBuffer(2 * MiB, 5);
    const src = new MemorySource(img);
    const map = write('late.map', '0x0 + 1\n0x00000000 0x00020000 ?\n0x00020000 0x001E0000 +\n'); // nothing of the first 128 KiB
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') }); // holds the first 64 KiB only
    let err: unknown;
    await importRescue(dev, write('other.img', patternBuffer(2 * MiB, 6)), map, { sampleSectors: 8 }).catch((e) => (err = e));
    expect((err as Error).message).to.match(/differs from the cache in \d+ bytes .*nothing was imported/);
    expect(dev.status().bytesCached).to.equal(64 * 1024 + 8 * 512); // the probe, and the sectors read to compare
    await dev.close();
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c2') });
    src.resetCounts();
    const r = await importRescue(dev, write('same.img', img), map, { sampleSectors: 8 });
    expect(r).to.deep.include({ sectorsSampled: 8, bytesImported: 0x1e0000 - 8 * 512, bytesAlreadyCached: 8 * 512 });
    expect(src.stats().reads).to.equal(8); // each sampled sector read once, and nothing else
  });

  it('a malformed mapfile is a MapfileError naming the line, and nothing is imported', async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') });
    const image = write('r.img', img);
    const map = write('r.map', '0x0 + 1\n0x0 0x10000 +\n0x20000 0x10000 +\n');
    let err: unknown;
    await importRescue(dev, image, map).catch((e) => (err = e));
    expect(err).to.be.instanceOf(MapfileError);
    expect((err as MapfileError).line).to.equal(3);
    expect(dev.status().bytesCached).to.equal(64 * 1024);
  });

  it('rescued data beyond the medium, or an image shorter than its map, is an ImportError', async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') });
    let err: unknown;
    await importRescue(dev, write('a.img', Buffer.alloc(2 * MiB)), write('a.map', '0 + 1\n0 0x200000 +\n')).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ImportError);
    expect((err as Error).message).to.match(/past the end of the medium/);
    err = undefined;
    await importRescue(dev, write('b.img', Buffer.alloc(1000)), write('b.map', '0 + 1\n0 0x100000 +\n')).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ImportError);
    // a longer map whose extra part is not rescued, and a shorter map, are fine
    const ok = await importRescue(dev, write('c.img', img), write('c.map', '0 ? 1\n0 0x80000 +\n0x80000 0x180000 ?\n'));
    expect(ok.bytesImported).to.equal(0x80000 - 64 * 1024);
  });

  it('an export over the image imported from refuses to lose the bytes of its partial sectors (exit 1, the image as it was); elsewhere, or with --force, it writes', async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img, { sectorSize: 2048 }), cacheDir: path.join(tmp, 'c') });
    // ddrescue -b512 rescued 512 bytes of the 2048-byte sector at 0x80000: the cache keeps whole sectors only.
    const image = write('r.img', img);
    const r = await importRescue(dev, image, write('r.map', '0x0 + 1\n0x0 0x80200 +\n0x80200 0x7FE00 ?\n'));
    expect(r.bytesPartialSectors).to.equal(512);
    const err = await exportImage(dev, image, path.join(tmp, 'r2.map')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).to.match(/holds 512 bytes the cache does not \(from byte 524288/);
    expect(fs.readFileSync(image).equals(img), 'the image is as it was').to.equal(true);
    expect(fs.existsSync(path.join(tmp, 'r2.map'))).to.equal(false);
    // through a hard link, the same file
    fs.linkSync(image, path.join(tmp, 'link.img'));
    expect(await exportImage(dev, path.join(tmp, 'link.img'), path.join(tmp, 'r2.map')).catch((e: unknown) => e)).to.be.instanceOf(UserError);
    await exportImage(dev, image, path.join(tmp, 'r2.map'), { replace: true }); // --force
    expect(fs.readFileSync(image).subarray(0x80000, 0x80200).equals(Buffer.alloc(512)), "the partial sector's bytes are gone").to.equal(true);
    await exportImage(dev, image, path.join(tmp, 'r2.map')); // and now it holds nothing the cache lacks
    expect((await exportImage(dev, write('other.img', 'x'), path.join(tmp, 'other.map'))).bytesWritten).to.equal(0x80000); // another image
  });

  it('an export to the path of the image imported from, once that image is gone, loses nothing and is written', async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img, { sectorSize: 2048 }), cacheDir: path.join(tmp, 'c') });
    const image = write('r.img', img);
    await importRescue(dev, image, write('r.map', '0x0 + 1\n0x0 0x80200 +\n0x80200 0x7FE00 ?\n'));
    fs.rmSync(image); // moved elsewhere, or deleted: nothing of it is at that path
    expect((await exportImage(dev, image, path.join(tmp, 'r2.map'))).bytesWritten).to.equal(0x80000);
  });

  // ddrescue writes its command line into the mapfile: a file name in Serbian Cyrillic (Њ is U+040A) was read as
  // UTF-8 and kept as Latin-1, so the cache's image.map got a line break (0x0A) inside that comment.
  it("the cache keeps the imported mapfile byte for byte (a UTF-8 file name in ddrescue's command line)", async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') });
    const mapBytes = Buffer.from('# Command line: ddrescue /dev/sr0 Њива.iso Њива.map\n0x0 + 1\n0x00000000  0x00100000  +\n', 'utf8');
    const image = write('r.img', img);
    await importRescue(dev, image, write('r.map', mapBytes));
    const kept = fs.readFileSync(path.join(tmp, 'c', 'image.map'));
    const header = Buffer.from(`# blkfs image: ${encodeURIComponent(image)}\n`);
    expect(kept.equals(Buffer.concat([header, mapBytes]))).to.equal(true); // the image it describes, then the map as it was
    expect(imageOfKeptMap(kept.toString('latin1'))).to.equal(image);
  });

  // ddrescue onto a disk (ddrescue /dev/sr0 /dev/sdb map) is a common rescue: a block device's stat size is 0.
  it('imports from an image on a block device (stat says 0 bytes); a device shorter than its map is refused', async function () {
    if (process.getuid?.() !== 0) this.skip(); // losetup needs root
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') });
    const map = write('r.map', '0 + 1\n0 0x100000 +\n');
    const short = await attachLoop(write('short.img', img.subarray(0, MiB / 2)));
    const loop = await attachLoop(write('r.img', img));
    try {
      let err: unknown;
      await importRescue(dev, short, map).catch((e) => (err = e));
      expect(err).to.be.instanceOf(ImportError);
      expect((err as Error).message).to.equal(`${short} has ${MiB / 2} bytes, but its mapfile says bytes up to ${MiB} were rescued`);
      expect(dev.status().bytesCached).to.equal(64 * 1024);
      const r = await importRescue(dev, loop, map);
      expect(r.bytesImported).to.equal(MiB - 64 * 1024);
      expect((await dev.readCachedBytes(0, MiB)).equals(img)).to.equal(true);
    } finally {
      await detachLoop(short);
      await detachLoop(loop);
    }
  });

  // The device written in place: one too small was half overwritten before ENOSPC (exit 2), and its earlier
  // contents lost for nothing. Its size is known before the first write.
  it('export onto a block device smaller than the medium is refused before anything is written', async function () {
    if (process.getuid?.() !== 0) this.skip(); // losetup needs root
    dev = await openCache({ source: new MemorySource(patternBuffer(MiB)), cacheDir: path.join(tmp, 'c') });
    const old = Buffer.alloc(MiB / 2, 0x5a);
    const backing = write('disk.bin', old);
    const loop = await attachLoop(backing, { writable: true });
    try {
      let err: unknown;
      await exportImage(dev, loop, path.join(tmp, 'out.map')).catch((e) => (err = e));
      expect(err).to.be.instanceOf(UserError);
      expect((err as Error).message).to.equal(`${loop} has ${MiB / 2} bytes, too few for the medium's ${MiB}: nothing was written`);
    } finally {
      await detachLoop(loop);
    }
    expect(fs.readFileSync(backing).equals(old)).to.equal(true);
    expect(fs.existsSync(path.join(tmp, 'out.map'))).to.equal(false);
  });

  it('exports a sparse image with its mapfile; ddrescue accepts the pair', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [1000] });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    await dev.read(900 * 512, 200 * 512);
    const outImg = path.join(tmp, 'out.img');
    const outMap = path.join(tmp, 'out.map');
    src.resetCounts();
    const r = await exportImage(dev, outImg, outMap);
    expect(src.stats().reads).to.equal(0);
    const out = fs.readFileSync(outImg);
    expect(out.length).to.equal(img.length);
    for (const b of parseMapfile(fs.readFileSync(outMap, 'utf8')).blocks) {
      const part = out.subarray(b.pos, b.pos + b.size);
      if (b.status === '+') expect(part.equals(img.subarray(b.pos, b.pos + b.size))).to.equal(true);
      else expect(part.every((x) => x === 0)).to.equal(true);
    }
    expect(r.bytesWritten).to.equal(64 * 1024 + 100 * 512);
    if (spawnSync('sh', ['-c', 'command -v ddrescuelog']).status === 0) {
      expect(spawnSync('ddrescuelog', ['-t', outMap]).status).to.equal(0);
    }
    // and the exported pair imports into a fresh cache of the same medium
    await dev.close();
    dev = await openCache({ source: new MemorySource(img, { badSectors: [1000] }), cacheDir: path.join(tmp, 'c2') });
    const imp = await importRescue(dev, outImg, outMap);
    expect(imp.bytesImported + imp.bytesAlreadyCached).to.equal(r.bytesWritten);
  });

  it("the cache's image.map is synced before it replaces the last one (a power cut leaves a whole map)", async () => {
    dev = await openCache({ source: new MemorySource(patternBuffer(MiB)), cacheDir: path.join(tmp, 'c') });
    await dev.read(0, 64 * 1024);
    const probe = await fs.promises.open(path.join(tmp, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
    await probe.close();
    const events: string[] = [];
    const opened = new Map<number, string>();
    const { sync } = proto;
    const { open, rename } = fs.promises;
    fs.promises.open = async (file: fs.PathLike, ...rest: unknown[]) => {
      const fh = await (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(file, ...rest);
      opened.set(fh.fd, path.basename(String(file)));
      return fh;
    };
    proto.sync = function (this: fs.promises.FileHandle) {
      return sync.call(this).then(() => void events.push(`sync ${opened.get(this.fd)}`));
    };
    fs.promises.rename = async (from: fs.PathLike, to: fs.PathLike) => {
      events.push(`rename ${path.basename(String(from))}`);
      return rename(from, to);
    };
    try {
      await exportImage(dev, path.join(tmp, 'out.img'), path.join(tmp, 'out.map'));
    } finally {
      proto.sync = sync;
      fs.promises.open = open;
      fs.promises.rename = rename;
    }
    expect(events.slice(-2)).to.deep.equal(['sync image.map.tmp', 'rename image.map.tmp']);
  });

  // An export that fails part-way (a full disk, an I/O error) must not leave an earlier export's image cut short
  // beside its mapfile: that pair would call '+' bytes the image no longer holds.
  it('an export that fails leaves the earlier export at its paths as it was', async () => {
    const img = patternBuffer(MiB);
    dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c') });
    await dev.read(0, MiB);
    const outImg = path.join(tmp, 'out.img');
    const outMap = path.join(tmp, 'out.map');
    await exportImage(dev, outImg, outMap);
    const [goodImg, goodMap] = [fs.readFileSync(outImg), fs.readFileSync(outMap, 'utf8')];
    const failing = dev;
    failing.readCachedBytes = () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }));
    let err: unknown;
    await exportImage(failing, outImg, outMap).catch((e) => (err = e));
    expect(err, 'the export fails').to.be.instanceOf(Error);
    expect(fs.readFileSync(outImg).equals(goodImg), 'the earlier image').to.equal(true);
    expect(fs.readFileSync(outMap, 'utf8'), 'the earlier mapfile').to.equal(goodMap);
    expect(fs.readdirSync(tmp).sort()).to.deep.equal(['c', 'out.img', 'out.map']);
  });

  it('an export stopped part-way (Ctrl-C) ends with the reason given, its partial files removed, the earlier export as it was', async () => {
    dev = await openCache({ source: new MemorySource(patternBuffer(4 * MiB)), cacheDir: path.join(tmp, 'c') });
    await dev.read(0, 4 * MiB);
    await dev.commitPending();
    const outImg = write('out.img', 'an earlier image');
    const outMap = write('out.map', 'an earlier mapfile');
    const stop = new AbortController();
    const reason = new Error('stopped');
    const readCachedBytes = dev.readCachedBytes.bind(dev);
    dev.readCachedBytes = (off, len) => {
      if (off >= MiB) stop.abort(reason); // while its second MiB is copied
      return readCachedBytes(off, len);
    };
    let err: unknown;
    await exportImage(dev, outImg, outMap, { stop: stop.signal }).catch((e) => (err = e));
    expect(err).to.equal(reason);
    expect(fs.readFileSync(outImg, 'utf8')).to.equal('an earlier image');
    expect(fs.readFileSync(outMap, 'utf8')).to.equal('an earlier mapfile');
    expect(fs.readdirSync(tmp).sort()).to.deep.equal(['c', 'out.img', 'out.map']);
  });

  // A data-recovery user wants everything that is good: a damaged chunk is not data, and ddrescue resuming from
  // the exported pair is to read it again from the medium.
  it('a damaged cache chunk: everything else is exported, its sectors are "?" in the mapfile and a hole in the image', async () => {
    const img = patternBuffer(MiB);
    const src = new MemorySource(img, { badSectors: [100] });
    const cacheDir = path.join(tmp, 'c');
    dev = await openCache({ source: src, cacheDir });
    await dev.read(0, MiB).catch(() => undefined);
    await dev.read(101 * 512, MiB - 101 * 512);
    await dev.close();
    const data = fs.openSync(path.join(cacheDir, 'data.img'), 'r+');
    fs.writeSync(data, Buffer.from('damage'), 0, 6, 600 * 1024); // a chunk the checksums will refuse
    fs.closeSync(data);
    dev = await openCache({ source: src, cacheDir });
    const outImg = path.join(tmp, 'out.img');
    const outMap = path.join(tmp, 'out.map');
    const r = await exportImage(dev, outImg, outMap);
    expect(r.damaged).to.have.length(1);
    const bad = r.damaged[0];
    expect(bad.offset).to.be.at.most(600 * 1024);
    expect(bad.offset + bad.length).to.be.above(600 * 1024 + 6);
    const blocks = parseMapfile(fs.readFileSync(outMap, 'utf8')).blocks;
    expect(blocks.filter((b) => b.status === '?')).to.deep.equal([{ pos: bad.offset, size: bad.length, status: '?' }]);
    expect(blocks.filter((b) => b.status === '-')).to.deep.equal([{ pos: 100 * 512, size: 512, status: '-' }]);
    const out = fs.readFileSync(outImg);
    for (const b of blocks) {
      const part = out.subarray(b.pos, b.pos + b.size);
      if (b.status === '+') expect(part.equals(img.subarray(b.pos, b.pos + b.size)), `+ at ${b.pos}`).to.equal(true);
      else expect(part.every((x) => x === 0), `${b.status} at ${b.pos}`).to.equal(true);
    }
    expect(r.bytesWritten).to.equal(MiB - 512 - bad.length);
    expect(fs.readdirSync(tmp).sort()).to.deep.equal(['c', 'out.img', 'out.map']);
    if (spawnSync('sh', ['-c', 'command -v ddrescuelog']).status === 0) {
      expect(spawnSync('ddrescuelog', ['-t', outMap]).status).to.equal(0);
    }
  });
});
