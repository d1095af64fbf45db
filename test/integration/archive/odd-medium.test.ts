// /checksums and a bag of a medium whose size is not a whole number of sectors, its last partial sector unreadable:
// the digests are those of the exported image (zeros where bad), also after a remount, and the bag decodes to it.
import { expect } from 'chai';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { crc32 } from 'zlib';
import { BadRange, blkfs, cleanup, mount, run, sleep, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';
import { withZeros } from '../../helpers/truth-mapfile';

const SIZE = 3 * (1 << 20) + 1000; // 1000 bytes past the last whole 512-byte sector… and 488 short of one
const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

describe('blkfs /checksums of a medium of odd size with an unreadable tail', function () {
  this.timeout(120_000);
  let dir: string;
  after(async () => cleanup(dir));

  it('equal the exported image\'s digests (zeros where bad), kept across a remount, and the bag decodes to that image', async () => {
    dir = tempDir('odd-medium');
    const image = randomBytes(SIZE);
    const bad: BadRange[] = [
      { offset: 4096, length: 512 },
      { offset: SIZE - 1000 + 512, length: 488 },
    ];
    const m = writeMedium(dir, image, bad);
    const nbd = await startNbdkit(dir, m.imagePath, m.mapPath);
    const mnt = path.join(dir, 'mnt');
    const cache = path.join(dir, 'cache');
    await mount(nbd.uri, mnt, ['--cache', cache]);
    expect((await blkfs(['acquire', '-q', mnt])).code).to.equal(0);
    const img = path.join(dir, 'out.img');
    const ex = await blkfs(['export', mnt, img, `${img}.map`]);
    expect(ex.code, ex.stderr).to.equal(0);
    const exported = fs.readFileSync(img);
    expect(exported.length).to.equal(SIZE);
    const truth = withZeros(image, bad);
    expect(exported.equals(truth)).to.equal(true);
    const want = [
      `# complete: ${512 + 488} bytes unreadable (zeros in the image)`,
      `# CRC32 (medium.img) = ${(crc32(truth) >>> 0).toString(16).padStart(8, '0')}`,
      `MD5 (medium.img) = ${hex('md5', truth)}`,
      `SHA1 (medium.img) = ${hex('sha1', truth)}`,
      `SHA256 (medium.img) = ${hex('sha256', truth)}`,
    ];
    const read = async () => {
      let text = '';
      for (let i = 0; i < 100 && !text.includes('SHA256'); i++, await sleep(100)) text = await fs.promises.readFile(path.join(mnt, 'checksums'), 'utf8');
      return text;
    };
    const first = await read();
    for (const w of want) expect(first).to.include(`${w}\n`);
    const r = await run('/bin/sh', ['-c', `cp "$0" "$1/medium.img" && cd "$1" && printf '%s' "$2" > sums && sha256sum -c sums && md5sum -c sums`, img, dir, first]);
    expect(r.stdout).to.equal('medium.img: OK\nmedium.img: OK\n');

    const bags = path.join(dir, 'bags');
    fs.mkdirSync(bags);
    const a = await blkfs(['archive', '-q', mnt, bags]);
    expect(a.code, a.stderr).to.equal(0);
    const bag = a.stdout.trim();
    const v = await run('/bin/sh', ['-c', 'cd "$0" && sha256sum --strict -c manifest-sha256.txt && sha256sum --strict -c tagmanifest-sha256.txt', bag]);
    expect(v.code, v.stdout + v.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(bag, 'data/checksums'), 'utf8')).to.equal(first);
    const dec = path.join(dir, 'decoded.img');
    expect((await blkfs(['sbx', 'decode', '--pv', '0', path.join(bag, 'data/image.sbx'), dec])).code).to.equal(0);
    expect(fs.readFileSync(dec).equals(truth)).to.equal(true);

    await umount(mnt);
    await mount(nbd.uri, mnt, ['--cache', cache]);
    expect(await fs.promises.readFile(path.join(mnt, 'checksums'), 'utf8')).to.equal(first);
  });
});
