// `blkfs mount -f` started from a shell runs its server in a child process (src/cli/mount.ts: only a new process can
// have the 1 MiB-read shim preloaded). Killed with SIGKILL, the command must take that server with it, as when the
// command was the server: the mount is left dead, as after any crash, and `blkfs umount` clears it. A server left
// running would keep the mount, the cache and the medium busy with nobody to stop it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { MAX_PAGES_SHIM } from '../../../src/fuse/request-size';
import { cleanup, MAIN_JS, patternImage, readStatus, sleep, start, startNbdkit, tempDir, umount, writeMedium } from './harness';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('mount -f: killed with SIGKILL', function () {
  let dir: string;

  before(function () {
    if (!fs.existsSync(MAX_PAGES_SHIM)) this.skip(); // without the shim -f serves in its own process: nothing to check
    dir = tempDir('fg-killed');
  });
  after(() => dir && cleanup(dir));

  it('its server dies with it: the mount is left dead, and blkfs umount clears it', async () => {
    const { imagePath, mapPath } = writeMedium(dir, patternImage(8 << 20), []);
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    const mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
    const env = { ...process.env, LD_PRELOAD: '' }; // as from a shell: the command itself starts without the shim
    const fg = start(process.execPath, [MAIN_JS, 'mount', '-f', nbd.uri, mnt, '--cache', path.join(dir, 'cache')], { env });
    let serverPid = 0;
    try {
      for (let i = 0; i < 200 && !fs.existsSync(path.join(mnt, 'raw')); i++) await sleep(50);
      serverPid = (await readStatus(mnt)).server.pid;
      expect(serverPid, 'the server runs in a child of the command').to.not.equal(fg.child.pid);

      fg.child.kill('SIGKILL');
      for (let i = 0; i < 100 && alive(serverPid); i++) await sleep(50);
      expect(alive(serverPid), 'the server outlived its command').to.equal(false);
      await fg.result; // the server held the command's stdout and stderr too

      expect(() => fs.statSync(path.join(mnt, 'raw'))).to.throw(/ENOTCONN/);
      await umount(mnt);
      expect(fs.readdirSync(mnt)).to.deep.equal([]);
    } finally {
      if (serverPid > 0 && alive(serverPid)) {
        process.kill(serverPid, 'SIGTERM'); // the server this test started (through its command): it unmounts
        for (let i = 0; i < 100 && alive(serverPid); i++) await sleep(50);
      }
      await fg.result;
      await nbd.stop();
    }
  });
});
