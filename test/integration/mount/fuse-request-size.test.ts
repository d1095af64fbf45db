// The kernel's FUSE reads reach the mount server in requests of up to 1 MiB (src/fuse/fuse-max-pages.c, preloaded
// by `blkfs mount`), not libfuse 2.9's 128 KiB: with readahead off, a program's 1 MiB read(2) of cold /raw is ONE
// device read of 1 MiB (eight of 128 KiB without it). In the background and with -f alike.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { cleanup, MAIN_JS, mount, patternImage, run, sleep, start, startNbdkit, tempDir, umount, writeMedium } from './harness';

const MiB = 1 << 20;
// Identity samples lie at (k + 0.5) / 32 of the medium: at odd MiB here, none inside [6 MiB, 7 MiB).
const SIZE = 64 * MiB;
const AT = 6 * MiB;

describe('mount: FUSE reads of up to 1 MiB per request', function () {
  let dir: string;
  let image: Buffer;

  before(() => {
    dir = tempDir('request-size');
    image = patternImage(SIZE);
  });
  after(() => cleanup(dir));

  /** dd's one 1 MiB read at AT of /raw: its bytes, and the device reads nbdkit saw inside [AT, AT + 1 MiB). */
  async function readOneMiB(mnt: string, logFile: string): Promise<{ bytes: Buffer; reads: { offset: number; count: number }[] }> {
    const out = path.join(dir, 'out.bin');
    const r = await run('dd', [`if=${path.join(mnt, 'raw')}`, `of=${out}`, 'bs=1M', 'count=1', `skip=${AT / MiB}`, 'iflag=direct']);
    expect(r.code, r.stderr).to.equal(0);
    const reads = readNbdkitLog(logFile)
      .reads.filter((x) => x.offset < AT + MiB && x.offset + x.count > AT)
      .map(({ offset, count }) => ({ offset, count }));
    return { bytes: fs.readFileSync(out), reads };
  }

  it('blkfs mount (background): a 1 MiB read of cold /raw is one device read of 1 MiB', async () => {
    const { imagePath, mapPath } = writeMedium(dir, image, [], 'bg');
    const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'bg' });
    const mnt = path.join(dir, 'mnt-bg');
    const cache = path.join(dir, 'cache-bg');
    await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const { bytes, reads } = await readOneMiB(mnt, nbd.logFile);
    await umount(mnt);
    await nbd.stop();
    expect(bytes.equals(image.subarray(AT, AT + MiB))).to.equal(true);
    expect(reads).to.deep.equal([{ offset: AT, count: MiB }]);
    expect(fs.readFileSync(path.join(cache, 'mount.log'), 'utf8')).to.include('fuse: reads of up to 1024 KiB per request');
  });

  it('blkfs mount -f: the same, and Ctrl-C (SIGINT) to the command unmounts and exits 0', async () => {
    const { imagePath, mapPath } = writeMedium(dir, image, [], 'fg');
    const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'fg' });
    const mnt = path.join(dir, 'mnt-fg');
    fs.mkdirSync(mnt);
    const env = { ...process.env, LD_PRELOAD: '' }; // as from a shell: the command itself starts without the shim
    const fg = start(process.execPath, [MAIN_JS, 'mount', '-f', nbd.uri, mnt, '--cache', path.join(dir, 'cache-fg'), '--readahead', '0'], { env });
    try {
      for (let i = 0; i < 200 && !fs.existsSync(path.join(mnt, 'raw')); i++) await sleep(50);
      const { bytes, reads } = await readOneMiB(mnt, nbd.logFile);
      expect(bytes.equals(image.subarray(AT, AT + MiB))).to.equal(true);
      expect(reads).to.deep.equal([{ offset: AT, count: MiB }]);
      fg.child.kill('SIGINT');
      const r = await fg.result;
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.include('fuse: reads of up to 1024 KiB per request');
      expect(fs.existsSync(path.join(mnt, 'raw')), 'unmounted').to.equal(false);
    } finally {
      if (fg.child.exitCode === null) fg.child.kill('SIGINT'); // passed on to the server, which unmounts
      await fg.result;
      await nbd.stop();
    }
  });
});
