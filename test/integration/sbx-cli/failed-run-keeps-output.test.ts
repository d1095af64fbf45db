// A decode or sort that fails part-way keeps what it wrote (blkar's rule: generated files are not removed on
// failure, for the partial data), and its read error says which file and where. The medium: a real blkfs mount's
// /raw over nbdkit, whose ddrescue filter fails the reads of one bad range.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, mount, startNbdkit, tempDir, writeMedium } from '../mount/harness';
import { lcgBytes } from '../../helpers/seeded-random';
import { sbx } from '../../helpers/blkar-cli';

describe('sbx decode, sort and encode that meet an unreadable sector', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = tempDir('sbx-partial')));
  after(() => cleanup(dir));

  it('keep what they wrote under OUT (exit 2), and the error names the file and the byte (encode too, having written nothing, leaves nothing)', async () => {
    const data = lcgBytes(2_500_000, 5);
    fs.writeFileSync(path.join(dir, 'data.bin'), data);
    expect(sbx(['encode', '--pv', '0', path.join(dir, 'data.bin'), path.join(dir, 'c.ecsbx')]).code).to.equal(0);
    const container = fs.readFileSync(path.join(dir, 'c.ecsbx'));
    const image = Buffer.alloc(Math.ceil(container.length / 4096) * 4096);
    container.copy(image);
    const BAD = 2 << 20;
    const { imagePath, mapPath } = writeMedium(dir, image, [{ offset: BAD, length: 4096 }]);
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    const raw = path.join(dir, 'mnt', 'raw');
    await mount(nbd.uri, path.join(dir, 'mnt'), ['--cache', path.join(dir, 'cache')]);
    const MiB = 1 << 20;

    const out = path.join(dir, 'out.bin');
    const d = await blkfs(['sbx', 'decode', '--pv', '0', raw, out]);
    expect(d.code, d.stdout + d.stderr).to.equal(2);
    expect(d.stdout).to.contain(`"${raw}" at byte ${BAD} (0x200000); what was written is kept in "${out}"`);
    expect(fs.readFileSync(out).subarray(0, MiB).equals(data.subarray(0, MiB))).to.equal(true);

    const sorted = path.join(dir, 'sorted.ecsbx');
    const s = await blkfs(['sbx', 'sort', '--pv', '0', raw, sorted]);
    expect(s.code, s.stdout + s.stderr).to.equal(2);
    expect(s.stdout).to.contain(`kept in "${sorted}"`);
    expect(fs.readFileSync(sorted).subarray(0, MiB).equals(container.subarray(0, MiB))).to.equal(true);

    // encode reads 8 MiB before it writes: it fails before writing anything, and leaves no empty container
    const encoded = path.join(dir, 'raw.sbx');
    const e = await blkfs(['sbx', 'encode', '--pv', '0', raw, encoded]);
    expect(e.code, e.stdout + e.stderr).to.equal(2);
    expect(e.stdout).to.match(new RegExp(`"${raw}" at byte \\d+`));
    expect(fs.existsSync(encoded)).to.equal(false);
  });
});
