// A loop device whose disc was swapped (LOOP_CHANGE_FD) while it was being read keeps some pages of the previous disc
// in the kernel's page cache while the device stays open (the last close drops them; nbdkit holds it open while it
// serves): every buffered read of those offsets, nbdkit's too, returns the old disc's bytes. blkfs
// drops the device's cached pages before it reads a medium (src/source/page-cache.ts), so it reads the disc that is
// there. The stale pages are made here the way the kernel makes them: reads racing the swap, retried until some stay.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { attachLoop, detachAllLoops } from '../../helpers/loop-device';
import { patternBuffer } from '../../helpers/memory-source';
import { blkfs, cleanup, mount, tempDir } from '../mount/harness';
import { readRange } from './cache-truth';

const SIZE = 4 * 1024 * 1024;

/** Swaps A→B under three reading threads until some pages of A stay cached; prints how many (0: none made). */
const RACE_PY = `
import fcntl, os, sys, threading, time
ld, a, b = sys.argv[1:4]
B = open(b, 'rb').read()
for trial in range(200):
    fcntl.ioctl(os.open(ld, 0), 0x4C06, os.open(a, 0))
    fd = os.open(ld, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    stop = []
    def reader(k):
        off = k * 4096
        while not stop:
            os.pread(fd, 4096, off % len(B)); off += 7 * 4096
    ts = [threading.Thread(target=reader, args=(k,)) for k in range(3)]
    [t.start() for t in ts]; time.sleep(0.02)
    fcntl.ioctl(os.open(ld, 0), 0x4C06, os.open(b, 0))
    stop.append(1); [t.join() for t in ts]
    got = os.pread(fd, len(B), 0)
    stale = sum(1 for p in range(0, len(B), 4096) if got[p:p + 4096] != B[p:p + 4096])
    os.close(fd)
    if stale:
        print(stale); sys.exit(0)
print(0)
`;

describe('integrity: stale pages of the previous disc in a loop device\'s page cache (real loop device, real FUSE)', function () {
  this.timeout(90_000);
  let tmp: string;

  beforeEach(() => (tmp = tempDir('stale-pages')));
  afterEach(async () => {
    await cleanup();
    await detachAllLoops();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the mount and import --source read the disc in the drive, not the pages the swap left of the one before', async function () {
    const [A, B] = [patternBuffer(SIZE, 31), patternBuffer(SIZE, 32)];
    const [aPath, bPath] = [path.join(tmp, 'A.img'), path.join(tmp, 'B.img')];
    fs.writeFileSync(aPath, A);
    fs.writeFileSync(bPath, B);
    const ld = await attachLoop(aPath);
    const holder = fs.openSync(ld, 'r'); // someone keeps the drive open, as a mount's nbdkit does across a swap
    try {
      const race = () => Number(spawnSync('python3', ['-c', RACE_PY, ld, aPath, bPath], { encoding: 'utf8' }).stdout.trim());
      if (race() === 0) this.skip(); // the kernel kept no page of A in 200 swaps: nothing to show here
      const env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'xdg') };
      const mnt = path.join(tmp, 'mnt');
      await mount(ld, mnt, [], env);
      expect((await readRange(path.join(mnt, 'raw'), 0, SIZE)).equals(B), 'the mount served B').to.equal(true);
      expect((await blkfs(['umount', mnt], { env })).code).to.equal(0);

      expect(race(), 'stale pages made again').to.be.above(0);
      fs.writeFileSync(path.join(tmp, 'b.map'), `0x0 + 1\n0x0 ${'0x' + SIZE.toString(16)} +\n`);
      const imported = await blkfs(['import', '--cache', path.join(tmp, 'c'), '--source', ld, bPath, path.join(tmp, 'b.map')], { env });
      expect(imported.code, imported.stderr).to.equal(0); // its identity probe and samples read B, as the image holds
    } finally {
      fs.closeSync(holder);
    }
  });
});
