// A read the NBD server fails for a passing reason (nbdkit's error filter answering ENOMEM while a trigger file
// exists) is no bad sector: the reader gets the error, the sector stays untried ('?'), the mount log says so once, and
// once the trigger is gone the sector is read (once) and served. `blkfs acquire` stops with exit 2 instead of marking
// the area bad, and a rerun finishes it. EIO and EINVAL (nbdkit's ENODATA) stay media errors: '-'.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mount, patternImage, rangesWithStatus, tempDir, umount } from './harness';

const SIZE = 1 << 20;

/** Reads `length` bytes of `file` at `offset`: the bytes, or the error code. */
async function readAt(file: string, offset: number, length: number): Promise<Buffer | string> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  } finally {
    await fh.close();
  }
}

describe('mount: transient NBD errors are not bad sectors (real FUSE, nbdkit error filter)', function () {
  let dir: string;
  let imagePath: string;
  let image: Buffer;

  before(() => {
    dir = tempDir('mount-transient');
    image = patternImage(SIZE);
    imagePath = path.join(dir, 'a.img');
    fs.writeFileSync(imagePath, image);
  });
  after(() => cleanup(dir));

  /** Mounts the image behind nbdkit's log and error filters (error=`errno` while `trigger` exists). */
  function setup(tag: string, errno: string) {
    const mnt = path.join(dir, `mnt-${tag}`);
    const trigger = path.join(dir, `trigger-${tag}`);
    const nbdLog = path.join(dir, `nbdkit-${tag}.log`);
    const cache = path.join(dir, `cache-${tag}`);
    const filters = ['log', `logfile=${nbdLog}`, 'error', `error=${errno}`, 'error-rate=100%', `error-file=${trigger}`];
    const args = ['--cache', cache, '--readahead', '0', ...filters.flatMap((f) => ['--nbdkit-filter', f])];
    return { mnt, trigger, nbdLog, cache, args };
  }

  async function mountWithErrors(tag: string, errno: string): Promise<{ mnt: string; trigger: string; nbdLog: string; cache: string }> {
    const { args, ...paths } = setup(tag, errno);
    await mount(imagePath, paths.mnt, args);
    return paths;
  }

  it('ENOMEM: mount refuses to guess the identity (exit 2); the reader gets ENOMEM, the sector stays untried, one log line; after the trigger, one device read and the right bytes; acquire stops (exit 2) and a rerun finishes', async () => {
    // failing while the medium is identified at mount: exit 2, no guess at the identity (another medium's cache)
    const first = setup('nomem', 'ENOMEM');
    fs.writeFileSync(first.trigger, '');
    fs.mkdirSync(first.mnt);
    const refused = await blkfs(['mount', imagePath, first.mnt, ...first.args]);
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.stderr).to.match(/cannot identify the medium: .*failed a read with ENOMEM .*not a bad sector: try again once it reads/);
    fs.rmSync(first.trigger);
    const { mnt, trigger, nbdLog, cache } = await mountWithErrors('nomem', 'ENOMEM');
    const raw = path.join(mnt, 'raw');
    const at = 256 * 1024;
    fs.writeFileSync(trigger, '');
    for (const off of [at, at + 8192, 0x48000]) expect(await readAt(raw, off, 4096)).to.equal('ENOMEM');
    let map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    // untried, as after mount (which read the identity samples: the first 64 KiB and one sector every 32 KiB)
    for (const off of [at, at + 8192, 0x48000]) {
      expect(rangesWithStatus(map, '?').some((r) => r.offset <= off && r.offset + r.length >= off + 4096), `${off} untried`).to.equal(true);
    }
    const logText = () => fs.readFileSync(path.join(cache, 'mount.log'), 'utf8');
    expect(logText().match(/failed a read with ENOMEM/g), logText()).to.have.length(1);
    expect(logText()).to.match(/not a bad sector, nothing is recorded/);

    fs.rmSync(trigger);
    const got = await readAt(raw, at, 4096);
    expect(Buffer.isBuffer(got) && got.equals(image.subarray(at, at + 4096)), String(got)).to.equal(true);
    const okAt = readNbdkitLog(nbdLog).ok.filter((r) => r.offset < at + 4096 && r.offset + r.length > at);
    expect(okAt, 'successful device reads of the sector').to.have.length(1);
    expect(logText()).to.match(/reads work again after \d+ failed/);

    // acquire while the server fails every read: exit 2 naming the error, nothing marked bad, the rest untried
    fs.writeFileSync(trigger, '');
    const stopped = await blkfs(['acquire', '-q', mnt]);
    expect(stopped.code, stopped.stderr).to.equal(2);
    expect(stopped.stderr).to.match(/ENOMEM.*nothing was marked bad: run blkfs acquire again/);
    map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(rangesWithStatus(map, '-')).to.deep.equal([]);
    expect(rangesWithStatus(map, '*')).to.deep.equal([]);
    expect(rangesWithStatus(map, '?').reduce((n, r) => n + r.length, 0)).to.be.greaterThan(SIZE / 2);

    fs.rmSync(trigger);
    const done = await blkfs(['acquire', '-q', mnt]);
    expect(done.code, done.stderr).to.equal(0);
    map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(rangesWithStatus(map, '+')).to.deep.equal([{ offset: 0, length: SIZE }]);
    const whole = await readAt(raw, 0, SIZE);
    expect(Buffer.isBuffer(whole) && whole.equals(image)).to.equal(true);
    await umount(mnt);
    expect(overlaps(readNbdkitLog(nbdLog).ok), 'bytes read from the device twice').to.deep.equal([]);
  });

  for (const errno of ['EIO', 'EINVAL']) {
    it(`${errno} is a media error: EIO to the reader, '-' in the map, not read again after the trigger is gone`, async () => {
      const { mnt, trigger, nbdLog } = await mountWithErrors(errno.toLowerCase(), errno);
      const raw = path.join(mnt, 'raw');
      const at = 128 * 1024;
      fs.writeFileSync(trigger, '');
      expect(await readAt(raw, at, 512)).to.equal('EIO');
      fs.rmSync(trigger);
      const failedBefore = readNbdkitLog(nbdLog).reads.length;
      expect(await readAt(raw, at, 512)).to.equal('EIO');
      const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
      await umount(mnt);
      expect(rangesWithStatus(map, '-')[0]).to.deep.equal({ offset: at, length: 512 });
      expect(readNbdkitLog(nbdLog).reads.length, 'device reads after the bad sector was known').to.equal(failedBefore);
    });
  }
});
