// `blkfs archive` interrupted in ways an archivist meets: the mount's server killed under it, a directory bag whose
// half-written data/image.sbx was changed before the resume. Real kernel FUSE, real nbdkit (rate filter: a slow
// medium, so the archive is caught midway).
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, forgetServer, MAIN_JS, mount, sleep, start, startNbdkit, tempDir, writeMedium } from '../mount/harness';

const MiB = 1 << 20;

describe('blkfs archive interrupted', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('archive-int');
  });

  afterEach(async () => {
    await cleanup(dir);
  });

  it("the mount's server killed midway: exit 2 saying the server went away and how to resume, not a bare ENOTCONN", async () => {
    const m = writeMedium(dir, randomBytes(16 * MiB), []);
    const nbd = await startNbdkit(dir, m.imagePath, m.mapPath, { rate: '4M' });
    const mnt = path.join(dir, 'mnt');
    const pid = await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache')]);
    const dest = path.join(dir, 'bags');
    fs.mkdirSync(dest);
    const archive = start(process.execPath, [MAIN_JS, 'archive', '-q', mnt, dest]);
    for (let i = 0; i < 100 && !(JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8')) as { archives?: unknown[] }).archives?.length; i++) await sleep(50);
    await sleep(500);
    process.kill(pid, 'SIGKILL');
    forgetServer(pid);
    const r = await archive.result;
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/the blkfs server of .*mnt went away during the archive.*blkfs umount .*mnt.*resume/);
    expect(r.stderr).to.not.match(/ENOTCONN|closed the control connection/);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
  });
});
