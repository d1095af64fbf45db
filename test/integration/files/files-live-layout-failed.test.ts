// A mount whose server cannot read the file layout (no tsk_loaddb on its PATH): `blkfs files MOUNTPOINT` fails as
// offline does (exit 2, saying why), never "0 files" with exit 0 that a script takes for "nothing damaged".
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fatImage, randomTree } from '../../helpers/filesystems';
import { blkfs, cleanup, mount, tempDir, umount } from '../mount/harness';

/** A PATH with what a mount needs (FUSE, nbdkit) and no Sleuth Kit. */
function binWithoutTsk(dir: string): string {
  const bin = path.join(dir, 'bin-without-tsk');
  fs.mkdirSync(bin);
  for (const tool of ['node', 'nbdkit', 'fusermount', 'fusermount3', 'mount', 'umount', 'sh']) {
    const real = execFileSync('sh', ['-c', `command -v ${tool} || true`], { encoding: 'utf8' }).trim();
    if (real) fs.symlinkSync(real, path.join(bin, tool));
  }
  return bin;
}

describe('blkfs files MOUNTPOINT: a layout the mount could not read', function () {
  let dir: string;
  before(() => (dir = tempDir('files-live-failed')));
  after(() => cleanup(dir));

  it('exits 2 saying why, for the text, --damaged and --json reports alike; blkfs status points there', async () => {
    const image = fatImage(dir, 'fat', randomTree({ 'one.bin': 3000 }), 4096);
    const mnt = path.join(dir, 'mnt');
    await mount(image, mnt, ['--cache', path.join(dir, 'cache')], { ...process.env, PATH: binWithoutTsk(dir) });
    for (const extra of [[], ['--damaged'], ['--json']]) {
      const r = await blkfs(['files', mnt, ...extra]);
      expect(r.code, `${extra}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.contain('the file layout could not be read: tsk_loaddb not found');
      expect(r.stdout).to.equal('');
    }
    const status = await blkfs(['status', mnt]);
    expect(status.stdout).to.contain('layout failed (blkfs files MOUNTPOINT says why)');
    await umount(mnt);
  });
});
