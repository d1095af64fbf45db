// Read once, whatever the mix: with readahead on (the default) and the acquisition's streaming copy pass, four
// concurrent readers of /raw plus `blkfs acquire` read each good byte from the device exactly once (nbdkit's log
// filter sees every request), end with the exact bad-sector map, and every reader gets the medium's bytes.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog } from '../../helpers/nbdkit-log';
import { BadRange, blkfs, cleanup, mount, patternImage, rangesWithStatus, readStatus, run, startNbdkit, tempDir, umount, writeMedium } from './harness';

const MiB = 1 << 20;
const SIZE = 24 * MiB;
const BAD: BadRange[] = [
  { offset: 3 * MiB + 0x1200, length: 0x600 },
  { offset: 11 * MiB, length: 0x200 },
  { offset: 17 * MiB + 0x10000, length: 0x4000 },
];
const BAD_BYTES = BAD.reduce((n, b) => n + b.length, 0);

describe('mount: each good byte is read from the device once (four readers, readahead, acquisition)', function () {
  let dir: string;
  let image: Buffer;

  before(() => {
    dir = tempDir('mount-once');
    image = patternImage(SIZE);
  });
  after(() => cleanup(dir));

  it('four concurrent readers of /raw and an acquisition: no good byte read twice, exact bad map, right bytes', async () => {
    const { imagePath, mapPath } = writeMedium(dir, image, BAD);
    const nbd = await startNbdkit(dir, imagePath, mapPath, { rdelay: '2ms' });
    const mnt = path.join(dir, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache')]); // default options: readahead on
    const raw = path.join(mnt, 'raw');
    const out = (name: string) => path.join(dir, name);
    // two dd readers that go on past errors, from the start and from the middle; ddrescue; a random reader
    const readers = [
      run('dd', [`if=${raw}`, `of=${out('a.img')}`, 'bs=128K', 'conv=noerror,sync']),
      run('dd', [`if=${raw}`, `of=${out('b.img')}`, 'bs=64K', 'skip=160', 'count=128', 'conv=noerror,sync']),
      run('ddrescue', ['-d', '-b512', '-q', raw, out('c.img'), out('c.map')]),
      (async () => {
        const fh = await fs.promises.open(raw, 'r');
        try {
          let x = 12345;
          for (let i = 0; i < 60; i++) {
            x = (x * 1103515245 + 12345) % 2 ** 31;
            const off = (x % (SIZE / 4096)) * 4096;
            const buf = Buffer.alloc(4096);
            await fh.read(buf, 0, 4096, off).catch(() => undefined); // EIO at a bad sector is fine here
          }
        } finally {
          await fh.close();
        }
        return { code: 0, stdout: '', stderr: '' };
      })(),
    ];
    const acq = blkfs(['acquire', '-q', mnt]);
    for (const r of await Promise.all(readers)) expect(r.code, r.stderr).to.be.oneOf([0, 1]); // dd noerror exits 1
    const done = await acq;
    expect(done.code, done.stderr).to.equal(0);
    const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    await umount(mnt);

    expect(rangesWithStatus(map, '-')).to.deep.equal(BAD);
    const log = readNbdkitLog(nbd.logFile);
    expect(overlaps(log.ok), 'good bytes read from the device twice').to.deep.equal([]);
    expect(log.okBytes, 'every good byte read once').to.equal(SIZE - BAD_BYTES);
    // ddrescue's copy holds the medium wherever its map says '+'
    const copy = fs.readFileSync(out('c.img'));
    for (const r of rangesWithStatus(fs.readFileSync(out('c.map'), 'utf8'), '+')) {
      expect(copy.subarray(r.offset, r.offset + r.length).equals(image.subarray(r.offset, r.offset + r.length)), `ddrescue bytes at ${r.offset}`).to.equal(true);
    }
    // dd (noerror,sync) pads what it could not read with zeros: everything else is the medium. A whole-page read
    // that reaches a bad sector is EIO whole (fuse-ops.ts: it may be the page cache's), so dd's 128 KiB block is.
    const a = fs.readFileSync(out('a.img'));
    expect(a.length).to.equal(SIZE);
    const firstBadBlock = BAD[0].offset - (BAD[0].offset % (128 << 10));
    expect(a.subarray(0, firstBadBlock).equals(image.subarray(0, firstBadBlock))).to.equal(true);
    const b = fs.readFileSync(out('b.img')); // 10..18 MiB: good up to the bad sector at 11 MiB
    expect(b.length).to.equal(8 * MiB);
    expect(b.subarray(0, MiB).equals(image.subarray(10 * MiB, 11 * MiB))).to.equal(true);
  });

  it('an NBD export that cannot read less than 4096 bytes: the cache works in its 4096-byte blocks, so 512-byte reads cost no byte twice', async () => {
    const small = image.subarray(0, 4 * MiB);
    const { imagePath, mapPath } = writeMedium(dir, small, [], 'min4k');
    const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'min4k', minBlockSize: 4096 });
    const mnt = path.join(dir, 'mnt-min4k');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-min4k'), '--readahead', '0']);
    expect((await readStatus(mnt)).sectorSize).to.equal(4096);
    const raw = path.join(mnt, 'raw');
    // ddrescue reading 512 bytes at a time (-c1): each 4096-byte block read from the device once, not eight times
    const r = await run('ddrescue', ['-d', '-b512', '-c1', '-q', raw, path.join(dir, 'min4k.img'), path.join(dir, 'min4k.map')]);
    expect(r.code, r.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(dir, 'min4k.img')).equals(small)).to.equal(true);
    await umount(mnt);
    const log = readNbdkitLog(nbd.logFile);
    expect(overlaps(log.ok), 'bytes read from the device twice').to.deep.equal([]);
    expect(log.okBytes).to.equal(small.length);
  });
});
