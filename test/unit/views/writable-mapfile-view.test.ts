import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { IMAGE_MAPFILE } from '../../../src/cache/kept-image-map';
import { ViewErrno } from '../../../src/views/view';
import { DRIVER_IMAGE, DRIVER_MAPFILE, WritableMapfileView } from '../../../src/views/writable-mapfile-view';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

function logger() {
  const lines: string[] = [];
  return { lines, info: (m: string) => lines.push(`I ${m}`), warn: (m: string) => lines.push(`W ${m}`), error: (m: string) => lines.push(`E ${m}`) };
}

describe('/mapfile as a writable file (WritableMapfileView)', () => {
  afterEach(closeMemoryCaches);

  it('takes a map written the way ddrescue writes it: open, truncate the path, write, close', async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1), { badSectors: [3] });
    await cache.read(0, 8192); // '+' 0-2, '-' 3, rest untried
    const log = logger();
    const view = new WritableMapfileView(cache, log);
    expect((await view.getattr()).mode).to.equal(0o644);
    const reader = await view.open(); // ddrescue's O_RDWR descriptor reads the map first
    const h = await view.openForWrite(false);
    await view.truncate(undefined, 0); // FUSE's form of O_TRUNC
    expect(((await view.read(h, 0, 1 << 20)) as Buffer).length).to.equal(0);
    expect((await view.getattr()).size).to.equal(((await view.read(reader, 0, 1 << 20)) as Buffer).length); // the reader's snapshot stays whole
    const text = '0x00000800 * 1\n0x0 0x600 +\n0x600 0x200 -\n0x800 0x1800 *\n';
    expect(await view.write(h, 0, Buffer.from(text))).to.equal(text.length);
    expect(await view.flush(h)).to.equal(undefined);
    await view.release(h);
    await view.release(reader);
    const back = ((await view.read(await view.open(), 0, 1 << 20)) as Buffer).toString();
    expect(back).to.match(/^0x00000800     \*               1$/m);
    expect(back).to.match(/^0x00000800  0x00001800  \*$/m);
    expect(fs.readFileSync(path.join(cache.cacheDir, DRIVER_MAPFILE), 'latin1')).to.equal(text);
    expect(view.driverStatus()).to.include({ program: 'ddrescue', phase: '*', currentPos: 0x800 });
    expect(log.lines.filter((l) => !l.startsWith('I '))).to.deep.equal([]);
  });

  it("keeps the writer's view across a remount (from ddrescue.map beside the cache)", async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1));
    await cache.read(0, 1024);
    const first = new WritableMapfileView(cache, logger());
    const h = await first.openForWrite(true);
    await first.write(h, 0, Buffer.from('0x400 / 2\n0x0 0x400 +\n0x400 0x1C00 /\n'));
    await first.release(h);
    const log = logger();
    const again = new WritableMapfileView(cache, log); // what a new mount builds over the same cache
    const text = ((await again.read(await again.open(), 0, 1 << 20)) as Buffer).toString();
    expect(text).to.match(/^0x00000400     \/               2$/m);
    expect(text).to.match(/^0x00000400  0x00001C00  \/$/m);
    expect(log.lines[0]).to.match(/^I mapfile: resumed the view of the last writer/);
  });

  it('keeps ddrescue.map and ddrescue.image private (0600) whatever the umask, as every file of the cache', async () => {
    const { cache } = await memoryCache(Buffer.alloc(4096, 1));
    const view = new WritableMapfileView(cache, logger());
    const old = process.umask(0o022);
    try {
      const h = await view.openForWrite(true);
      await view.write(h, 0, Buffer.from('0x0 ? 1\n0x0 0x1000 ?\n'));
      await view.release(h);
    } finally {
      process.umask(old);
    }
    for (const name of [DRIVER_MAPFILE, DRIVER_IMAGE]) expect(fs.statSync(path.join(cache.cacheDir, name)).mode & 0o777, name).to.equal(0o600);
  });

  it('a new writer starts from the map of the image last exported or imported (image.map), not from an empty image', async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1));
    await cache.read(0, 4096); // imported or read, then exported: the image holds 0-4095
    fs.writeFileSync(path.join(cache.cacheDir, IMAGE_MAPFILE), '0x0 ? 1\n0x0 0x1000 +\n0x1000 0x1000 ?\n');
    await cache.read(4096, 1024); // read since: not in that image
    await cache.commitPending();
    const view = new WritableMapfileView(cache, logger()); // a mount over that cache
    const w = ((await view.read(await view.openForWrite(false), 0, 1 << 20)) as Buffer).toString();
    expect(w).to.match(/^0x00000000  0x00001000  \+$/m); // ddrescue does not copy again what the image holds
    expect(w).to.match(/^0x00001000  0x00001000  \?$/m); // nor skips what it lacks
  });

  it('the map of the image last exported is shown only to a ddrescue writing that image: one on another image that holds data copies from the cache', async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1));
    await cache.read(0, 4096);
    await cache.commitPending();
    const img = (name: string) => path.join(cache.cacheDir, name);
    fs.writeFileSync(img('A.img'), Buffer.alloc(8192, 1)); // exported: holds 0-4095
    fs.writeFileSync(img('old.img'), Buffer.alloc(8192, 0xee)); // an older image of something else, never exported
    fs.symlinkSync(img('A.img'), img('link.img'));
    const keep = (image: string) => fs.writeFileSync(img(IMAGE_MAPFILE), `# blkfs image: ${encodeURIComponent(image)}\n0x0 ? 1\n0x0 0x1000 +\n0x1000 0x1000 ?\n`);
    let opener = img('A.img');
    const shown = async () => {
      const v = new WritableMapfileView(cache, logger(), '/mnt/disk/mapfile', () => opener); // a mount over that cache
      return ((await v.read(await v.openForWrite(false), 0, 1 << 20)) as Buffer).toString();
    };
    keep(img('A.img'));
    expect(await shown()).to.match(/^0x00000000  0x00001000  \+$/m); // A continued: what it holds is not copied again
    opener = img('link.img');
    expect(await shown()).to.match(/^0x00000000  0x00001000  \+$/m); // the same file by another name
    opener = img('old.img');
    expect(await shown()).to.match(/^0x00000000  0x00002000  \?$/m); // its 0xEE bytes would have stayed under '+'
    fs.writeFileSync(img(IMAGE_MAPFILE), '0x0 ? 1\n0x0 0x1000 +\n0x1000 0x1000 ?\n'); // kept by an older blkfs: its image unknown
    expect(await shown()).to.match(/^0x00000000  0x00002000  \?$/m);
  });

  it('refuses a malformed write at close (EINVAL), naming the line, and keeps the map', async () => {
    const { cache } = await memoryCache(Buffer.alloc(4096, 1));
    const log = logger();
    const view = new WritableMapfileView(cache, log);
    const before = ((await view.read(await view.open(), 0, 1 << 20)) as Buffer).toString();
    const h = await view.openForWrite(true);
    await view.write(h, 0, Buffer.from('0x0 ? 1\nnot a block\n'));
    const r = await view.flush(h);
    expect(r).to.be.instanceOf(ViewErrno);
    expect((r as ViewErrno).errno).to.equal('EINVAL');
    expect(log.lines.join('\n')).to.include('mapfile write refused: Error in mapfile, line 2: Bad block line in list.');
    expect(((await view.read(await view.open(), 0, 1 << 20)) as Buffer).toString()).to.equal(before);
  });

  it('a truncate past 64 MiB is EINVAL like such a write, and allocates nothing (5 GiB was a RangeError, EIO)', async () => {
    const { cache } = await memoryCache(Buffer.alloc(4096, 1));
    const view = new WritableMapfileView(cache, logger());
    const h = await view.openForWrite(false);
    for (const r of [await view.truncate(h, 5 * 2 ** 30), await view.truncate(undefined, (64 << 20) + 1)]) {
      expect(r).to.be.instanceOf(ViewErrno);
      expect((r as ViewErrno).errno).to.equal('EINVAL');
    }
    expect(await view.truncate(h, 100)).to.equal(undefined);
    expect(((await view.read(h, 0, 1 << 20)) as Buffer).length).to.equal(100);
  });

  it('a read-only descriptor cannot write', async () => {
    const { cache } = await memoryCache(Buffer.alloc(4096, 1));
    const view = new WritableMapfileView(cache, logger());
    const r = await view.write(await view.open(), 0, Buffer.from('x'));
    expect((r as ViewErrno).errno).to.equal('EBADF');
  });
  it("a ddrescue on another image than the driver's map describes starts from an empty image; the same image, or an unknown opener, continues; kept across a remount", async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1));
    await cache.read(0, 4096);
    // Images that exist and hold data (one missing, or empty, holds nothing whatever the map: see below).
    const img = (name: string) => path.join(cache.cacheDir, name);
    fs.writeFileSync(img('A.img'), Buffer.alloc(4096, 1));
    fs.writeFileSync(img('B.img'), Buffer.alloc(512, 1));
    let opener: string | undefined = img('A.img');
    const outfileOf = () => opener;
    const view = new WritableMapfileView(cache, logger(), '/mnt/disk/mapfile', outfileOf);
    const h = await view.openForWrite(true);
    await view.write(h, 0, Buffer.from('0x0 + 1\n0x0 0x1000 +\n0x1000 0x1000 ?\n')); // A holds 0-4095
    await view.release(h);
    expect(fs.readFileSync(path.join(cache.cacheDir, DRIVER_IMAGE), 'latin1')).to.equal(img('A.img') + '\n');
    const shown = async (v: WritableMapfileView) => ((await v.read(await v.openForWrite(false), 0, 1 << 20)) as Buffer).toString();
    expect(await shown(view)).to.match(/^0x00000000  0x00001000  \+$/m); // A continued
    opener = undefined;
    expect(await shown(view)).to.match(/^0x00000000  0x00001000  \+$/m); // unknown: as before
    opener = img('B.img');
    const log = logger();
    const again = new WritableMapfileView(cache, log, '/mnt/disk/mapfile', outfileOf); // a remount
    expect(await shown(again)).to.match(/^0x00000000  0x00002000  \?$/m); // B holds nothing: all copied from the cache
    expect(log.lines.filter((l) => l.includes(`for a new image ${img('B.img')} (the map kept is of ${img('A.img')})`))).to.have.length(1);
  });

  it('a ddrescue whose image does not exist yet, or is empty, starts from an empty image, even on the image the map kept is of', async () => {
    const { cache } = await memoryCache(Buffer.alloc(8192, 1));
    await cache.read(0, 4096);
    const a = path.join(cache.cacheDir, 'A.img');
    const log = logger();
    const view = new WritableMapfileView(cache, log, '/mnt/disk/mapfile', () => a);
    const h = await view.openForWrite(true);
    await view.write(h, 0, Buffer.from('0x0 + 1\n0x0 0x1000 +\n0x1000 0x1000 ?\n'));
    await view.release(h);
    const shown = async () => ((await view.read(await view.openForWrite(false), 0, 1 << 20)) as Buffer).toString();
    expect(await shown()).to.match(/^0x00000000  0x00002000  \?$/m); // A.img deleted (never made): holds nothing
    fs.writeFileSync(a, '');
    expect(await shown()).to.match(/^0x00000000  0x00002000  \?$/m); // empty: the same
    fs.writeFileSync(a, Buffer.alloc(4096, 1));
    expect(await shown()).to.match(/^0x00000000  0x00001000  \+$/m); // holds data: the map kept is its own
    expect(log.lines.filter((l) => l.includes(`${a}, which holds nothing yet`))).to.have.length(1);
  });
});
