// The source's connection in /status and the mount log: the mount's nbdkit killed under it is reported lost, the
// next read restarts it and is served, and both events are counted and logged.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { cleanup, mount, patternImage, readStatus, run, sleep, tempDir, umount, writeMedium } from './harness';

describe('mount: source lost and reconnected (real nbdkit, real FUSE)', function () {
  let dir: string;
  before(() => (dir = tempDir('mount-source-events')));
  after(() => cleanup(dir));

  it('shows the loss and the reconnection in /status and in mount.log; reads go on with the right bytes', async () => {
    const image = patternImage(1 << 20);
    const { imagePath } = writeMedium(dir, image, []);
    const mnt = path.join(dir, 'mnt');
    const cache = path.join(dir, 'cache');
    const pid = await mount(imagePath, mnt, ['--cache', cache]);
    const raw = path.join(mnt, 'raw');
    const fd = fs.openSync(raw, 'r');
    try {
      const buf = Buffer.alloc(4096);
      fs.readSync(fd, buf, 0, 4096, 256 * 1024);
      expect((await readStatus(mnt)).source).to.deep.equal({ state: 'connected', lostEvents: 0, reconnects: 0 });
      // Our mount's own nbdkit (a child of the server we started), nothing else.
      const children = (await run('pgrep', ['-P', String(pid), '-x', 'nbdkit'])).stdout.trim().split('\n').filter(Boolean);
      expect(children).to.have.length(1);
      process.kill(Number(children[0]), 'SIGKILL');
      let st = (await readStatus(mnt)).source as unknown as { state: string; lostEvents: number };
      for (let i = 0; i < 50 && st.lostEvents === 0; i++) {
        await sleep(100);
        st = (await readStatus(mnt)).source as unknown as { state: string; lostEvents: number };
      }
      expect(st).to.deep.include({ state: 'lost', lostEvents: 1 });
      await sleep(300); // past the first reconnect delay
      fs.readSync(fd, buf, 0, 4096, 512 * 1024);
      expect(buf.equals(image.subarray(512 * 1024, 512 * 1024 + 4096))).to.equal(true);
      expect((await readStatus(mnt)).source).to.deep.include({ state: 'connected', lostEvents: 1, reconnects: 1 });
    } finally {
      fs.closeSync(fd);
    }
    await umount(mnt);
    const log = fs.readFileSync(path.join(cache, 'mount.log'), 'utf8');
    expect(log.split('\n')[0], 'the log begins with what was mounted, and how').to.match(/started: blkfs mount \S+medium\.img \S+mnt --cache \S+cache$/);
    expect(log).to.match(/lost:/);
    expect(log).to.match(/reconnected to source/);
  });
});
