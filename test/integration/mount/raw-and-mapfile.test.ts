// /raw and /mapfile on the real kernel FUSE, over a real nbdkit whose ddrescue filter fails exactly the
// bad ranges below; device reads are counted at the NBD level from nbdkit's log filter.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog, union } from '../../helpers/nbdkit-log';
import {
  BadRange,
  blkfs,
  cleanup,
  mount,
  NbdkitServer,
  patternImage,
  rangesWithStatus,
  readStatus,
  run,
  startNbdkit,
  tempDir,
  umount,
  writeMedium,
} from './harness';

const SIZE = 64 << 20;
// A 4 KiB page-aligned range, a 1 KiB range that is sector- but not page-aligned, and one lone sector.
const BAD: BadRange[] = [
  { offset: 0x200000, length: 0x1000 },
  { offset: 0x1700200, length: 0x400 },
  { offset: 0x3f00600, length: 0x200 },
];
const BAD_BYTES = BAD.reduce((n, b) => n + b.length, 0);

/** Python: maps argv[1] read-only and private, writes its 4 KiB page at byte argv[2] to stdout. */
const MMAP_PAGE =
  'import mmap, sys\nf = open(sys.argv[1], "rb")\nm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)\n' +
  'o = int(sys.argv[2])\nsys.stdout.buffer.write(m[o:o + 4096])\n';

/** True when `copy` equals `image` everywhere outside the bad ranges. */
function equalOutsideBad(image: Buffer, copy: Buffer): boolean {
  let pos = 0;
  for (const b of BAD) {
    if (!image.subarray(pos, b.offset).equals(copy.subarray(pos, b.offset))) return false;
    pos = b.offset + b.length;
  }
  return image.subarray(pos).equals(copy.subarray(pos));
}

describe('mount: /raw and /mapfile over nbdkit with bad ranges (real FUSE)', function () {
  let dir: string;
  let image: Buffer;
  let imagePath: string;
  let mapPath: string;

  before(() => {
    dir = tempDir('mount-raw');
    image = patternImage(SIZE);
    ({ imagePath, mapPath } = writeMedium(dir, image, BAD));
  });

  after(() => cleanup(dir));

  describe('one reader after another', () => {
    let nbd: NbdkitServer;
    let mnt: string;
    let cache: string;

    before(async () => {
      nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'seq' });
      mnt = path.join(dir, 'mnt-seq');
      cache = path.join(dir, 'cache-seq');
      await mount(nbd.uri, mnt, ['--cache', cache]);
    });

    it('shows raw, mapfile and status; /raw has the size of the medium and is read-only', async () => {
      expect(await fs.promises.readdir(mnt)).to.include.members(['mapfile', 'raw', 'status']);
      const st = await fs.promises.stat(path.join(mnt, 'raw'));
      expect(st.size).to.equal(SIZE);
      expect(st.mode & 0o777).to.equal(0o444);
      const w = await run('sh', ['-c', `echo x >> ${path.join(mnt, 'raw')}`]);
      expect(w.code).to.not.equal(0);
      expect(w.stderr).to.match(/Read-only file system|Permission denied/);
    });

    it('cp /raw stops with EIO at the first bad range (here at a 128 KiB boundary: exactly there), after copying every byte before it', async () => {
      const out = path.join(dir, 'cp.img');
      const r = await run('cp', [path.join(mnt, 'raw'), out]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/Input\/output error/);
      const copy = fs.readFileSync(out);
      expect(copy.length).to.equal(BAD[0].offset);
      expect(copy.equals(image.subarray(0, BAD[0].offset))).to.equal(true);
    });

    it('a read smaller than a page gets the good bytes up to a bad sector, then EIO; a whole page holding one is EIO', async () => {
      // At 0x1700000 one good sector, then the bad range at 0x1700200.
      const raw = path.join(mnt, 'raw');
      const small = path.join(dir, 'sectors.bin');
      const r = await run('dd', [`if=${raw}`, `of=${small}`, 'bs=512', `skip=${0x1700000 / 512}`, 'count=2']);
      expect(r.stderr).to.match(/Input\/output error/);
      expect(fs.readFileSync(small).equals(image.subarray(0x1700000, 0x1700200))).to.equal(true);
      // A whole page may be the kernel filling its page cache (mmap), where a short read would become zeros.
      const page = path.join(dir, 'page.bin');
      const p = await run('dd', [`if=${raw}`, `of=${page}`, 'bs=4096', `skip=${0x1700000 / 4096}`, 'count=1']);
      expect(p.stderr).to.match(/Input\/output error/);
      expect(fs.statSync(page).size).to.equal(0);
    });

    it('mmap (MAP_PRIVATE) of /raw: the pages beside a bad sector hold the medium\'s bytes, its own page is SIGBUS, never zeros', async () => {
      // Python maps /raw and prints the page at OFFSET; a fault on the read-around window that holds the bad page
      // must not leave zeros in the page cache for the good pages next to it.
      // (spawnSync: the mount is served by its own server process, not this one)
      const show = (offset: number) => spawnSync('python3', ['-c', MMAP_PAGE, path.join(mnt, 'raw'), String(offset)], { timeout: 60_000 });
      const after = show(0x1701000);
      expect(after.status, String(after.stderr)).to.equal(0);
      expect(after.stdout.equals(image.subarray(0x1701000, 0x1702000))).to.equal(true);
      expect(show(0x1700000).signal).to.equal('SIGBUS');
      const before = show(0x16ff000);
      expect(before.status, String(before.stderr)).to.equal(0);
      expect(before.stdout.equals(image.subarray(0x16ff000, 0x1700000))).to.equal(true);
      expect(fs.statSync(path.join(mnt, 'raw')).size).to.equal(SIZE);
    });

    it('ddrescue -d -b512 through /raw: the mapfile marks exactly the bad sectors, every other byte equals the image', async () => {
      const out = path.join(dir, 'ddrescue.img');
      const r = await run('ddrescue', ['-d', '-b512', '-q', path.join(mnt, 'raw'), out, path.join(dir, 'ddrescue.map')]);
      expect(r.code, r.stderr).to.equal(0);
      const live = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
      expect(rangesWithStatus(live, '-')).to.deep.equal(BAD);
      expect(rangesWithStatus(live, '?')).to.deep.equal([]);
      expect(rangesWithStatus(live, '*').concat(rangesWithStatus(live, '/'))).to.deep.equal([]);
      // ddrescue's own map agrees with ours
      expect(rangesWithStatus(fs.readFileSync(path.join(dir, 'ddrescue.map'), 'utf8'), '-')).to.deep.equal(BAD);
      expect(equalOutsideBad(image, fs.readFileSync(out))).to.equal(true);
      expect((await run('ddrescuelog', ['-t', path.join(mnt, 'mapfile')])).code).to.equal(0);
    });

    it('so far no byte of a good sector was read from the device twice, and each good byte once', () => {
      const log = readNbdkitLog(nbd.logFile);
      expect(overlaps(log.ok)).to.deep.equal([]);
      expect(log.okBytes).to.equal(SIZE - BAD_BYTES);
      // failed device reads all touch a bad range (narrowing found them; nothing good was marked bad)
      for (const f of log.failed) expect(BAD.some((b) => f.offset < b.offset + b.length && b.offset < f.offset + f.length)).to.equal(true);
    });

    it('reading /raw a second time reads nothing from the device, not even the bad sectors', async () => {
      const before = readNbdkitLog(nbd.logFile).reads.length;
      const r = await run('ddrescue', ['-d', '-b512', '-q', '-f', path.join(mnt, 'raw'), '/dev/null', path.join(dir, 'second.map')]);
      expect(r.code, r.stderr).to.equal(0);
      expect(rangesWithStatus(fs.readFileSync(path.join(dir, 'second.map'), 'utf8'), '-')).to.deep.equal(BAD);
      expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(before);
    });

    it('/status reports the counters and the server', async () => {
      const s = await readStatus(mnt);
      expect(s.size).to.equal(SIZE);
      expect(s.sectorSize).to.equal(512);
      expect(s.bytesCached).to.equal(SIZE - BAD_BYTES);
      expect(s.bytesBad).to.equal(BAD_BYTES);
      expect(s.bytesUntried).to.equal(0);
      expect(s.deviceBytes).to.equal(readNbdkitLog(nbd.logFile).okBytes);
      expect(s.server.cacheDir).to.equal(cache);
      expect(s.server.pid).to.be.a('number');
    });

    it('after a remount, reads only the identity probe from the device (exactly what /status says)', async () => {
      await umount(mnt);
      const before = readNbdkitLog(nbd.logFile);
      await mount(nbd.uri, mnt, ['--cache', cache]);
      const r = await run('ddrescue', ['-d', '-b512', '-q', '-f', path.join(mnt, 'raw'), '/dev/null', path.join(dir, 'third.map')]);
      expect(r.code, r.stderr).to.equal(0);
      const after = readNbdkitLog(nbd.logFile);
      const fresh = after.reads.slice(before.reads.length);
      const probe = (await readStatus(mnt)).identityProbe as unknown as { method: string; sectors: number; bytes: number };
      // The cache re-reads its probe sectors to prove this is the same medium; nothing else.
      expect(probe.method).to.equal('probe');
      expect(fresh.filter((x) => x.outcome === 'failed')).to.deep.equal([]);
      expect(fresh.reduce((n, x) => n + x.count, 0)).to.equal(probe.bytes);
      expect(probe.bytes).to.equal(probe.sectors * 512);
      expect(probe.bytes).to.be.at.most(64 * 1024);
    });
  });

  describe('two concurrent readers on a cold cache', () => {
    it('together read each good byte from the device exactly once', async () => {
      const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'conc' });
      const mnt = path.join(dir, 'mnt-conc');
      await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-conc')]);
      const raw = path.join(mnt, 'raw');
      const [a, b] = await Promise.all([
        run('ddrescue', ['-d', '-b512', '-q', raw, path.join(dir, 'a.img'), path.join(dir, 'a.map')]),
        run('ddrescue', ['-d', '-b512', '-q', raw, path.join(dir, 'b.img'), path.join(dir, 'b.map')]),
      ]);
      expect([a.code, b.code]).to.deep.equal([0, 0]);
      const log = readNbdkitLog(nbd.logFile);
      expect(overlaps(log.ok)).to.deep.equal([]);
      expect(log.okBytes).to.equal(SIZE - BAD_BYTES);
      expect(union(log.ok).reduce((n, r) => n + r.length, 0)).to.equal(SIZE - BAD_BYTES);
      expect(equalOutsideBad(image, fs.readFileSync(path.join(dir, 'a.img')))).to.equal(true);
      expect(equalOutsideBad(image, fs.readFileSync(path.join(dir, 'b.img')))).to.equal(true);
      expect(rangesWithStatus(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'), '-')).to.deep.equal(BAD);
    });
  });

  describe('mount --readahead (healthy media)', () => {
    it('prefetches ahead of a sequential reader, still reading each good byte once and marking exactly the bad sectors', async () => {
      const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'ra' });
      const mnt = path.join(dir, 'mnt-ra');
      await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-ra'), '--readahead', '1M']);
      const r = await run('ddrescue', ['-d', '-b512', '-q', path.join(mnt, 'raw'), path.join(dir, 'ra.img'), path.join(dir, 'ra.map')]);
      expect(r.code, r.stderr).to.equal(0);
      const log = readNbdkitLog(nbd.logFile);
      expect(overlaps(log.ok)).to.deep.equal([]);
      expect(log.okBytes).to.equal(SIZE - BAD_BYTES);
      expect(equalOutsideBad(image, fs.readFileSync(path.join(dir, 'ra.img')))).to.equal(true);
      expect(rangesWithStatus(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'), '-')).to.deep.equal(BAD);
      const s = await readStatus(mnt);
      expect(s.prefetchBytes).to.be.greaterThan(SIZE / 2);
    });
  });

  describe('blkfs acquire after a partial read', () => {
    it('completes the map with ddrescue strategy, reading no good byte twice; a second acquire reads nothing', async () => {
      const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'acq' });
      const mnt = path.join(dir, 'mnt-acq');
      await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-acq')]);
      // some foreground reads first: the first 8 MiB and a window around the second bad range
      await run('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=1M', 'count=8', 'iflag=direct']);
      await run('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=64K', `skip=${0x1700000 / 65536}`, 'count=1', 'iflag=direct']);
      const r = await blkfs(['acquire', '-q', mnt]);
      expect(r.code, r.stderr).to.equal(0);
      const live = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
      expect(rangesWithStatus(live, '-')).to.deep.equal(BAD);
      expect(rangesWithStatus(live, '+').reduce((n, x) => n + x.length, 0)).to.equal(SIZE - BAD_BYTES);
      const log = readNbdkitLog(nbd.logFile);
      expect(overlaps(log.ok)).to.deep.equal([]);
      expect(log.okBytes).to.equal(SIZE - BAD_BYTES);
      const again = await blkfs(['acquire', '-q', mnt]);
      expect(again.code, again.stderr).to.equal(0);
      expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(log.reads.length);
      // and the cache's bytes are the medium's
      const out = path.join(dir, 'acq-export.img');
      expect((await blkfs(['export', mnt, out])).code).to.equal(0);
      expect(equalOutsideBad(image, fs.readFileSync(out))).to.equal(true);
      expect(rangesWithStatus(fs.readFileSync(path.join(dir, 'acq-export.map'), 'utf8'), '-')).to.deep.equal(BAD);
    });
  });
});
