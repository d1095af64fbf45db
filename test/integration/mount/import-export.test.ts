// blkfs import seeds a cache from a ddrescue rescue ('+' sectors are never read from the device again; its '-', '*', '/'
// areas: import-ddrescue-map.test.ts); blkfs export writes a sparse image plus the mapfile of exactly that state.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachLoop } from '../../helpers/loop-device';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mount, patternImage, rangesWithStatus, readStatus, run, startNbdkit, tempDir, umount, writeMedium } from './harness';

const SIZE = 32 << 20;
const HALF = SIZE / 2;

describe('mount: import and export of ddrescue rescues (real FUSE, nbdkit, ddrescue)', function () {
  let dir: string;
  let image: Buffer;

  before(() => {
    dir = tempDir('mount-impexp');
    image = patternImage(SIZE);
    writeMedium(dir, image, [{ offset: HALF + 0x10000, length: 0x800 }]);
  });

  after(() => cleanup(dir));

  it('an imported rescue is served without device reads; acquire reads only the rest; export round-trips', async () => {
    // A previous rescue that got the first half: its image holds garbage elsewhere, which must not count.
    const rescue = Buffer.from(image);
    rescue.fill(0xee, HALF);
    fs.writeFileSync(path.join(dir, 'rescue.img'), rescue);
    fs.writeFileSync(
      path.join(dir, 'rescue.map'),
      `# Rescue Logfile\n0x${HALF.toString(16)}     ?               1\n0x00000000  0x${HALF.toString(16)}  +\n0x${HALF.toString(16)}  0x${HALF.toString(16)}  ?\n`,
    );
    const nbd = await startNbdkit(dir, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'));
    const cache = path.join(dir, 'cache');
    const imp = await blkfs(['import', path.join(dir, 'rescue.img'), path.join(dir, 'rescue.map'), '--source', nbd.uri, '--cache', cache]);
    expect(imp.code, imp.stderr).to.equal(0);
    expect(imp.stdout).to.match(/imported \d+ bytes/);
    const afterImport = readNbdkitLog(nbd.logFile).reads.length; // the identity window of a new cache

    const mnt = path.join(dir, 'mnt');
    // no readahead: a reader of the imported half would otherwise prefetch the untried sectors right after it
    await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(rangesWithStatus(map, '+')[0]).to.deep.equal({ offset: 0, length: HALF });
    const probeReads = readNbdkitLog(nbd.logFile).reads.length - afterImport;
    const head = path.join(dir, 'head.bin');
    const dd = await run('dd', [`if=${path.join(mnt, 'raw')}`, `of=${head}`, 'bs=1M', `count=${HALF >> 20}`, 'iflag=direct']);
    expect(dd.code, dd.stderr).to.equal(0);
    expect(fs.readFileSync(head).equals(image.subarray(0, HALF))).to.equal(true);
    expect(readNbdkitLog(nbd.logFile).reads.length - afterImport).to.equal(probeReads); // the imported half cost nothing

    const acq = await blkfs(['acquire', '-q', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    const late = readNbdkitLog(nbd.logFile).ok.slice(0);
    // every successful device read after the import lies in the second half, except the identity probes
    const firstHalfBytes = late.reduce((n, r) => n + Math.max(0, Math.min(r.offset + r.length, HALF) - r.offset), 0);
    expect(firstHalfBytes).to.be.at.most(2 * 64 * 1024);

    const out = path.join(dir, 'export.img');
    const outMap = path.join(dir, 'export.map');
    const exp = await blkfs(['export', mnt, out, outMap]);
    expect(exp.code, exp.stderr).to.equal(0);
    expect(rangesWithStatus(fs.readFileSync(outMap, 'utf8'), '-')).to.deep.equal([{ offset: HALF + 0x10000, length: 0x800 }]);
    const copy = fs.readFileSync(out);
    expect(copy.length).to.equal(SIZE);
    expect(copy.subarray(0, HALF + 0x10000).equals(image.subarray(0, HALF + 0x10000))).to.equal(true);
    expect(copy.subarray(HALF + 0x10800).equals(image.subarray(HALF + 0x10800))).to.equal(true);
    expect((await run('ddrescuelog', ['-t', outMap])).code).to.equal(0);
    // the bad sectors are a hole in the sparse image, not data
    expect(copy.subarray(HALF + 0x10000, HALF + 0x10800).every((b) => b === 0)).to.equal(true);
  });

  it('export over the rescue imported from, which holds part of a sector the cache does not: exit 1 and the rescue unchanged; --force replaces it', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'partial-'));
    const rescue = path.join(sub, 'rescue.img');
    fs.writeFileSync(rescue, image);
    fs.writeFileSync(path.join(sub, 'rescue.map'), '0x0 + 1\n0x0 0x100100 +\n0x100100 0x1000 ?\n'); // 256 bytes of the sector at 1 MiB
    const nbd = await startNbdkit(sub, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'));
    const cache = path.join(sub, 'cache');
    expect((await blkfs(['import', rescue, path.join(sub, 'rescue.map'), '--source', nbd.uri, '--cache', cache])).code).to.equal(0);
    const exp = await blkfs(['export', '--cache', cache, rescue, path.join(sub, 'out.map')]);
    expect(exp.code, exp.stderr).to.equal(1);
    expect(exp.stderr).to.match(/holds 256 bytes the cache does not \(from byte 1048576.*--force/);
    expect(fs.readFileSync(rescue).equals(image), 'the rescue as it was').to.equal(true);
    const forced = await blkfs(['export', '--force', '--cache', cache, rescue, path.join(sub, 'out.map')]);
    expect(forced.code, forced.stderr).to.equal(0);
    expect(fs.readFileSync(rescue).subarray(0x100000, 0x100100).equals(Buffer.alloc(256))).to.equal(true);
  });

  it('a cache made by import --source tells its medium from another sharing its first MiB: the other gets its own cache and bytes', async () => {
    const sub = path.join(dir, 'lookalike');
    fs.mkdirSync(sub);
    const a = patternImage(4 << 20);
    const b = Buffer.from(a);
    b.fill(0xbb, 1 << 20); // a second disc of a set, a copy edited later: the same start
    fs.writeFileSync(path.join(sub, 'a.img'), a);
    fs.writeFileSync(path.join(sub, 'b.img'), b);
    fs.writeFileSync(path.join(sub, 'rescue.map'), `# Rescue Logfile\n0x00000000     ?               1\n0x00000000  0x00400000  +\n`);
    const env = { ...process.env, XDG_CACHE_HOME: path.join(sub, 'caches') };
    const imp = await blkfs(['import', '--source', path.join(sub, 'a.img'), path.join(sub, 'a.img'), path.join(sub, 'rescue.map')], { env });
    expect(imp.code, imp.stderr).to.equal(0);
    const mnt = path.join(sub, 'mnt');
    await mount(path.join(sub, 'b.img'), mnt, ['--readahead', '0'], env);
    const served = path.join(sub, 'served.bin');
    const dd = await run('dd', [`if=${path.join(mnt, 'raw')}`, `of=${served}`, 'bs=1M', 'skip=3', 'count=1', 'iflag=direct']);
    expect(dd.code, dd.stderr).to.equal(0);
    const cacheDir = (await readStatus(mnt)).server.cacheDir;
    await umount(mnt);
    expect(fs.readFileSync(served).equals(b.subarray(3 << 20, 4 << 20))).to.equal(true);
    expect(fs.readdirSync(path.join(sub, 'caches', 'blkfs')).filter((n) => n !== 'run')).to.have.length(2); // run/: the mounts' sockets
    expect(fs.readFileSync(path.join(cacheDir, 'mount.log'), 'utf8')).to.not.match(/same medium/);
  });

  // A read of the image can come back short (a failing disk, a network or FUSE file system; a blkfs /raw at a bad
  // sector, as here): the bytes it did not deliver are not the image's, and must never be recorded as rescued.
  it('an image whose reads fail part-way is exit 2 naming it, and no sector is recorded with bytes it did not give', async () => {
    const sub = path.join(dir, 'short');
    fs.mkdirSync(sub);
    const small = patternImage(4 << 20);
    // bad sectors inside the image's read chunks, not at their starts: a read there ends short, not in EIO
    const medium = writeMedium(sub, small, [
      { offset: 0x123400, length: 0x400 },
      { offset: 0x2a5600, length: 0x400 },
    ]);
    const nbd = await startNbdkit(sub, medium.imagePath, medium.mapPath);
    const mnt = path.join(sub, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(sub, 'cache-a'), '--readahead', '0']);
    const claimsAll = path.join(sub, 'claims-all.map');
    fs.writeFileSync(claimsAll, `0x00000000     +               1\n0x00000000  0x${small.length.toString(16)}  +\n`);
    const cache = path.join(sub, 'cache-b');
    const imp = await blkfs(['import', path.join(mnt, 'raw'), claimsAll, '--source', nbd.uri, '--cache', cache]);
    await umount(mnt);
    expect(imp.code, imp.stderr).to.equal(2);
    expect(imp.stderr).to.contain(path.join(mnt, 'raw'));
    expect(imp.stderr).not.to.match(/\n\s+at /); // a message, not a stack trace
    const out = path.join(sub, 'export.img');
    const exp = await blkfs(['export', '--cache', cache, out]);
    expect(exp.code, exp.stderr).to.equal(0);
    const copy = fs.readFileSync(out);
    const plus = rangesWithStatus(fs.readFileSync(path.join(sub, 'export.map'), 'utf8'), '+');
    expect(plus.length).to.be.greaterThan(0);
    for (const r of plus) {
      const { offset: a, length: n } = r;
      expect(copy.subarray(a, a + n).equals(small.subarray(a, a + n)), `'+' bytes ${a}+${n} are the medium's`).to.equal(true);
    }
    await nbd.stop();
  });
  it('export of a cache with a damaged chunk: exit 2 naming the range and the way out; the rest exported, the damage "?"', async () => {
    const sub = path.join(dir, 'damaged');
    fs.mkdirSync(sub);
    const small = patternImage(4 << 20);
    const medium = writeMedium(sub, small, []);
    const nbd = await startNbdkit(sub, medium.imagePath, medium.mapPath);
    const all = path.join(sub, 'all.map');
    fs.writeFileSync(all, `0x00000000     +               1\n0x00000000  0x${small.length.toString(16)}  +\n`);
    const cache = path.join(sub, 'cache');
    const imp = await blkfs(['import', medium.imagePath, all, '--source', nbd.uri, '--cache', cache]);
    await nbd.stop();
    expect(imp.code, imp.stderr).to.equal(0);
    const data = fs.openSync(path.join(cache, 'data.img'), 'r+');
    fs.writeSync(data, Buffer.from('rot'), 0, 3, 0x200010); // a bit-rotted cache chunk
    fs.closeSync(data);
    const out = path.join(sub, 'export.img');
    const exp = await blkfs(['export', '--cache', cache, out]);
    expect(exp.code, exp.stderr).to.equal(2);
    expect(exp.stderr).to.match(/cache damaged: bytes \d+\.\.\d+/);
    expect(exp.stderr).to.contain(`blkfs verify --cache ${cache} --forget-damaged`);
    const map = fs.readFileSync(path.join(sub, 'export.map'), 'utf8');
    const untried = rangesWithStatus(map, '?');
    expect(untried).to.have.length(1);
    expect(untried[0].offset).to.be.at.most(0x200010);
    expect(untried[0].offset + untried[0].length).to.be.above(0x200013);
    const copy = fs.readFileSync(out);
    expect(copy.length).to.equal(small.length);
    for (const { offset: a, length: n } of rangesWithStatus(map, '+')) expect(copy.subarray(a, a + n).equals(small.subarray(a, a + n))).to.equal(true);
    const { offset: a, length: n } = untried[0];
    expect(copy.subarray(a, a + n).every((b) => b === 0), 'the damaged bytes are not in the image').to.equal(true);
    expect((await run('ddrescuelog', ['-t', path.join(sub, 'export.map')])).code).to.equal(0);
    // the same through a mount (the server exports)
    const nbd2 = await startNbdkit(sub, medium.imagePath, medium.mapPath, { tag: 'nbd2' });
    const mnt = path.join(sub, 'mnt');
    await mount(nbd2.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const viaMount = await blkfs(['export', mnt, path.join(sub, 'm.img'), path.join(sub, 'm.map')]);
    await umount(mnt);
    await nbd2.stop();
    expect(viaMount.code, viaMount.stderr).to.equal(2);
    expect(viaMount.stderr).to.contain(`blkfs umount ${mnt}, then blkfs verify --cache ${cache} --forget-damaged`);
    expect(fs.readFileSync(path.join(sub, 'm.map'), 'utf8').split('\n').slice(-4)).to.deep.equal(map.split('\n').slice(-4));
  });

  it('exports through one mount to one image at once each finish (exit 0), and the image is the medium', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'together-'));
    const nbd = await startNbdkit(sub, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'));
    const mnt = path.join(sub, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(sub, 'cache')]);
    const r = await run('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=1M', `count=${HALF >> 20}`]); // the half before the bad area
    expect(r.code, r.stderr).to.equal(0);
    const out = path.join(sub, 'o.img');
    // The server writes each into OUT.blkfs-partial.<its pid>: at once, one truncated the other's file, or renamed it away.
    const all = await Promise.all([1, 2, 3, 4].map(() => blkfs(['export', mnt, out])));
    for (const e of all) expect(e.code, e.stderr).to.equal(0);
    expect(fs.readFileSync(out).subarray(0, HALF).equals(image.subarray(0, HALF))).to.equal(true);
    expect(fs.readdirSync(sub).filter((n) => n.includes('blkfs-partial'))).to.deep.equal([]);
    await umount(mnt);
    await nbd.stop();
  });

  it('export never writes the medium: the backing file of the mounted loop device is exit 1 and unchanged', async () => {
    const sub = path.join(dir, 'loop');
    fs.mkdirSync(sub);
    const disc = path.join(sub, 'disc.img');
    fs.writeFileSync(disc, patternImage(1 << 20));
    const before = fs.readFileSync(disc);
    const loop = await attachLoop(disc);
    const mnt = path.join(sub, 'mnt');
    try {
      await mount(loop, mnt, ['--cache', path.join(sub, 'cache')]);
      const onDisc = await blkfs(['export', mnt, disc, path.join(sub, 'disc.map')]);
      expect(onDisc.code, onDisc.stderr).to.equal(1);
      expect(onDisc.stderr).to.contain(`it is the backing file of ${loop}`);
      expect(fs.readFileSync(disc).equals(before)).to.equal(true);
      expect(fs.existsSync(path.join(sub, 'disc.map'))).to.equal(false);
    } finally {
      await umount(mnt).catch(() => undefined);
      await detachLoop(loop);
    }
  });

  it("offline, the cache's medium device is never written (export, even --force) nor read as a rescue (import); another block device takes --force", async () => {
    const sub = path.join(dir, 'device');
    fs.mkdirSync(sub);
    const disc = path.join(sub, 'disc.img');
    fs.writeFileSync(disc, patternImage(1 << 20));
    const before = fs.readFileSync(disc);
    fs.writeFileSync(path.join(sub, 'other.img'), Buffer.alloc(1 << 20));
    const loop = await attachLoop(disc, { writable: true }); // a disk that could be written: nothing else stops it
    const other = await attachLoop(path.join(sub, 'other.img'), { writable: true });
    const cache = path.join(sub, 'cache');
    try {
      await mount(loop, path.join(sub, 'mnt'), ['--cache', cache]);
      await umount(path.join(sub, 'mnt'));
      const onMedium = await blkfs(['export', '--force', '--cache', cache, loop, path.join(sub, 'disc.map')]);
      expect(onMedium.code, onMedium.stderr).to.equal(1);
      expect(onMedium.stderr).to.contain(`it is ${loop}, the device this cache's medium was read through`);
      expect(fs.readFileSync(disc).equals(before)).to.equal(true);
      fs.writeFileSync(path.join(sub, 'rescue.map'), '# Rescue Logfile\n0x00000000     ?               1\n0x00000000  0x00100000  +\n');
      const fromMedium = await blkfs(['import', '--cache', cache, loop, path.join(sub, 'rescue.map')]);
      expect(fromMedium.code, fromMedium.stderr).to.equal(1);
      expect(fromMedium.stderr).to.contain(`Refusing to read "${loop}" as IMAGE: it is the medium`);
      const unforced = await blkfs(['export', '--cache', cache, other, path.join(sub, 'other.map')]);
      expect(unforced.code, unforced.stderr).to.equal(1);
      expect(unforced.stderr).to.contain(`${other} is a block device: exporting onto it overwrites what it holds; give --force`);
      expect(fs.existsSync(path.join(sub, 'other.map'))).to.equal(false);
      const forced = await blkfs(['export', '--force', '--cache', cache, other, path.join(sub, 'other.map')]);
      expect(forced.code, forced.stderr).to.equal(0);
      const written = fs.readFileSync(path.join(sub, 'other.img'));
      const rescued = rangesWithStatus(fs.readFileSync(path.join(sub, 'other.map'), 'utf8'), '+');
      expect(rescued, 'the identity sectors the mount read').to.not.be.empty;
      for (const { offset: a, length: n } of rescued) {
        expect(written.subarray(a, a + n).equals(before.subarray(a, a + n))).to.equal(true);
      }
    } finally {
      await umount(path.join(sub, 'mnt')).catch(() => undefined);
      await detachLoop(loop);
      await detachLoop(other);
    }
  });

  it('export to a device without a mapfile is exit 1: its default mapfile would be a file in /dev (no /dev/null.map)', async () => {
    const cache = path.join(dir, 'loop', 'cache'); // made by the test before
    const toNull = await blkfs(['export', '--cache', cache, '/dev/null']);
    expect(toNull.code, toNull.stderr).to.equal(1);
    expect(toNull.stderr).to.contain('/dev/null is a device: name the mapfile too');
    expect(fs.existsSync('/dev/null.map')).to.equal(false);
  });

  it('export --cache and import --cache of a mounted cache: exit 1 naming the mount and what to run instead', async () => {
    const sub = path.join(dir, 'busy');
    fs.mkdirSync(sub);
    const medium = path.join(sub, 'small.img');
    fs.writeFileSync(medium, patternImage(1 << 20));
    const cache = path.join(sub, 'cache');
    const mnt = path.join(sub, 'mnt');
    await mount(medium, mnt, ['--cache', cache]);
    try {
      const exp = await blkfs(['export', '--cache', cache, path.join(sub, 'out.img')]);
      expect(exp.code, exp.stderr).to.equal(1);
      expect(exp.stderr).to.contain(`is in use by the blkfs mount on ${mnt}`).and.contain(`blkfs export ${mnt} ${path.join(sub, 'out.img')}`);
      expect(fs.existsSync(path.join(sub, 'out.img'))).to.equal(false);
      fs.writeFileSync(path.join(sub, 'r.map'), '0x0 +\n0x0 0x100000 +\n');
      const imp = await blkfs(['import', medium, path.join(sub, 'r.map'), '--cache', cache]);
      expect(imp.code, imp.stderr).to.equal(1);
      expect(imp.stderr).to.contain(`is in use by the blkfs mount on ${mnt}`).and.contain(`blkfs umount ${mnt}`);
      // with the medium too: the mount is named as well (it was "in use by another blkfs process")
      const withSource = await blkfs(['import', '--source', medium, '--cache', cache, medium, path.join(sub, 'r.map')]);
      expect(withSource.code, withSource.stderr).to.equal(1);
      expect(withSource.stderr).to.contain(`is in use by the blkfs mount on ${mnt}`).and.contain(`blkfs umount ${mnt}`);
    } finally {
      await umount(mnt);
    }
  });
});
