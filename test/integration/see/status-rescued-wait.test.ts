// blkfs status and the web page while a lookup in /rescued/<UID>/ waits for the medium (real kernel FUSE, real nbdkit
// frozen with SIGSTOP: a drive stuck on a scratch). The size of a find's info.json needs its container's burst level,
// which may take reading blocks not cached yet; meanwhile the kernel makes every listing of that directory wait
// (libfuse 2 asks for no parallel directory operations). The server still answers everything else, so both go on.
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { uidToHex } from '../../../src/sbx/format/header';
import { httpGet } from '../../helpers/http-get';
import { blkfs, cleanup, mount, readStatus, run, sleep, start, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';

const MiB = 1 << 20;

describe('blkfs status and the web page beside a /rescued/ lookup that waits for the medium', function () {
  this.timeout(90_000);
  let dir: string;

  after(() => cleanup(dir));

  it('status prints its report (exit 0), the finds "not listed now"; rescued.json answers, the size it waits for null', async () => {
    dir = tempDir('status-rescued-wait');
    fs.writeFileSync(path.join(dir, 'b.bin'), randomBytes(400_000));
    const enc = await blkfs(['sbx', 'encode', '--pv', '0', path.join(dir, 'b.bin'), path.join(dir, 'b.ecsbx')]);
    expect(enc.code, enc.stderr).to.equal(0);
    const container = fs.readFileSync(path.join(dir, 'b.ecsbx'));
    const image = randomBytes(8 * MiB);
    container.copy(image, MiB);
    writeMedium(dir, image, []);
    const nbd = await startNbdkit(dir, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'));
    const mnt = path.join(dir, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache'), '--readahead', '0', '--http', '127.0.0.1:0']);
    const url = ((await readStatus(mnt)).server as unknown as { http: string }).http;
    // The container's first 4 KiB only: its UID is found, but they do not settle its burst level.
    const dd = await run('dd', [`if=${mnt}/raw`, 'of=/dev/null', 'bs=4096', `skip=${MiB / 4096}`, 'count=1', 'iflag=direct']);
    expect(dd.code, dd.stderr).to.equal(0);
    const uid = uidToHex(container.subarray(6, 12));
    for (let i = 0; i < 50 && !(await fs.promises.readdir(path.join(mnt, 'rescued'))).includes(uid); i++) await sleep(100);

    process.kill(nbd.pid, 'SIGSTOP');
    let stat: ReturnType<typeof start> | undefined;
    try {
      stat = start('stat', [path.join(mnt, 'rescued', uid, 'info.json')]);
      await sleep(1000);
      expect(stat.child.exitCode, 'stat of info.json waits for the stopped device').to.equal(null);
      const r = await blkfs(['status', mnt], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^rescued: +[\d.]+% /m);
      expect(r.stdout).to.match(/^rescued finds: +not listed now: rescued\/ waits for the medium/m);
      const page = await httpGet(url + 'rescued.json', 10_000);
      expect(page.code).to.equal(200);
      const files = (JSON.parse(page.body.toString()) as { uid: string; files: { name: string; size: number | null }[] }[])[0].files;
      expect(files.find((f) => f.name === 'info.json')?.size).to.equal(null);
      expect(files.find((f) => f.name === 'b.bin')?.size).to.equal(400_000);
    } finally {
      process.kill(nbd.pid, 'SIGCONT');
    }
    expect((await stat.result).code).to.equal(0);
    const again = await blkfs(['status', mnt]);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/^rescued finds: +1 container, 3 files$/m);
    await umount(mnt);
    await nbd.stop();
  });
});
