// `blkfs archive` interrupted in ways an archivist meets: the mount's server killed under it, a directory bag whose
// half-written data/image.sbx was changed before the resume. Real kernel FUSE, real nbdkit (rate filter: a slow
// medium, so the archive is caught midway).
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, forgetServer, MAIN_JS, mount, sleep, start, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';

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
    expect(r.stderr).to.not.match(/ENOTCONN|ECONNABORTED|closed the control connection/);
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
  });

  it('a directory bag resumed after its half-written data/image.sbx was changed: the changed part is stored again, the bag is valid', async () => {
    const image = randomBytes(16 * MiB);
    const m = writeMedium(dir, image, []);
    const nbd = await startNbdkit(dir, m.imagePath, m.mapPath, { rate: '32M' }); // bits/s: 16 MiB in about 4 s
    const mnt = path.join(dir, 'mnt');
    const cache = path.join(dir, 'cache');
    await mount(nbd.uri, mnt, ['--cache', cache]);
    const dest = path.join(dir, 'bags');
    fs.mkdirSync(dest);
    const args = ['archive', '-q', '--part-size', '5M', mnt, dest];
    const first = start(process.execPath, [MAIN_JS, ...args]);
    const recorded = (): { size: number }[] => {
      const states = fs.existsSync(path.join(cache, 'archive')) ? fs.readdirSync(path.join(cache, 'archive')).filter((f) => f.endsWith('.json')) : [];
      return states.flatMap((f) => {
        try {
          return Object.values((JSON.parse(fs.readFileSync(path.join(cache, 'archive', f), 'utf8')) as { resume: { parts: Record<string, { size: number }> } }).resume.parts);
        } catch {
          return [];
        }
      });
    };
    for (let i = 0; i < 400 && recorded().length === 0; i++) await sleep(25);
    first.child.kill('SIGKILL');
    await first.result;
    const parts = recorded() as { n: number; size: number }[];
    expect(parts, 'a part was stored before the kill').to.not.be.empty;
    const [partial] = fs.readdirSync(dest);
    expect(partial).to.match(/\.partial$/);
    // Someone (another run with the same --name, a disk fault) changed a byte of a stored part.
    const sbx = path.join(dest, partial, 'data', 'image.sbx');
    const fd = fs.openSync(sbx, 'r+');
    const at = (parts[0].n - 1) * 5 * MiB + 1000;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, at);
    fs.writeSync(fd, Buffer.from([b[0] ^ 0xff]), 0, 1, at);
    fs.closeSync(fd);

    const r = await blkfs(args);
    expect(r.code, r.stderr).to.equal(0);
    const bag = r.stdout.trim();
    const check = await start('/bin/sh', ['-c', 'cd "$0" && sha256sum --strict -c manifest-sha256.txt', bag]).result;
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const out = path.join(dir, 'decoded.img');
    expect((await blkfs(['sbx', 'decode', '--pv', '0', path.join(bag, 'data', 'image.sbx'), out])).code).to.equal(0);
    expect(fs.readFileSync(out).equals(image)).to.equal(true);
  });

  // With --retries a bad sector can be read later: a part stored while it was '-' (zeros) no longer matches the
  // container the resumed run renders. It is stored again, never kept beside a manifest or image that disagree.
  it('a part stored while a sector was bad, the sector read since (--retries): the resume stores that part again, the bag is valid', async () => {
    const image = randomBytes(16 * MiB);
    const bad = { offset: MiB, length: 512 };
    const m = writeMedium(dir, image, [bad]);
    let nbd = await startNbdkit(dir, m.imagePath, m.mapPath);
    const mnt = path.join(dir, 'mnt');
    const cache = path.join(dir, 'cache');
    await mount(nbd.uri, mnt, ['--cache', cache, '--retries', '1']);
    const dest = path.join(dir, 'bags');
    // The first run stores every part, then cannot write data/checksums (a directory is in the way): exit 2.
    fs.mkdirSync(path.join(dest, 'disc.partial', 'data', 'checksums', 'x'), { recursive: true });
    const args = ['archive', '-q', '--name', 'disc', '--part-size', '5M', mnt, dest];
    const first = await blkfs(args);
    expect(first.code, first.stderr).to.equal(2);
    fs.rmSync(path.join(dest, 'disc.partial', 'data', 'checksums'), { recursive: true });
    await umount(mnt);
    // The sector reads now: a retry gets it.
    await nbd.stop();
    fs.writeFileSync(m.mapPath, fs.readFileSync(writeMedium(fs.mkdtempSync(path.join(dir, 'healed-')), image, []).mapPath));
    nbd = await startNbdkit(dir, m.imagePath, m.mapPath);
    await mount(nbd.uri, mnt, ['--cache', cache, '--retries', '2']);
    expect((await blkfs(['acquire', '-q', mnt])).code).to.equal(0);
    const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    expect(map, 'the sector was read').to.not.match(/ -\n/);

    const r = await blkfs(args);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/part 1 of data\/image\.sbx reads differently now .*storing it again/);
    const bag = r.stdout.trim();
    const check = await start('/bin/sh', ['-c', 'cd "$0" && sha256sum --strict -c manifest-sha256.txt', bag]).result;
    expect(check.code, check.stdout + check.stderr).to.equal(0);
    const out = path.join(dir, 'decoded.img');
    expect((await blkfs(['sbx', 'decode', '--pv', '0', path.join(bag, 'data', 'image.sbx'), out])).code).to.equal(0);
    expect(fs.readFileSync(out).equals(image), 'the bag holds the sector as read now').to.equal(true);
  });
});
