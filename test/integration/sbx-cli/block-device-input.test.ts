// `blkfs sbx` reading a block device (a disk, a partition, a read-only loop device): st_size is 0 there, so the
// size must come from the kernel, or every workflow sees an empty input.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { VECTORS_DIR } from '../../helpers/vectors-dir';
import { attachLoop, detachAllLoops } from '../../helpers/loop-device';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');

function sbx(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'sbx', ...args, '--json'], { input: '', maxBuffer: 64 << 20 });
  return { code: r.status, doc: JSON.parse(r.stdout.toString()) as { stats?: Record<string, unknown>; error: string | null }, stdout: r.stdout };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('sbx workflows on a block device (read-only loop device)', function () {
  this.timeout(60_000);
  let dir: string;
  let image: Buffer;
  let dev: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-blockdev-'));
    // A 64 KiB "disk": noise, then a version 1 container at byte 4096.
    image = Buffer.alloc(64 * 1024, 0x5a);
    fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')).copy(image, 4096);
    fs.writeFileSync(path.join(dir, 'disk.img'), image);
    dev = await attachLoop(path.join(dir, 'disk.img'));
  });
  after(async () => {
    await detachAllLoops();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('encode of the device encodes all its bytes; decode gives them back', () => {
    const out = path.join(dir, 'disk.ecsbx');
    const enc = sbx(['encode', dev, out]);
    expect([enc.code, enc.doc.stats?.fileSize]).to.deep.equal([0, image.length]);
    const dec = path.join(dir, 'disk.out');
    expect(sbx(['decode', out, dec]).code).to.equal(0);
    expect(sha(fs.readFileSync(dec))).to.equal(sha(image));
    expect(sbx(['encode', '--info-only', dev, out]).doc.stats?.fileSize).to.equal(image.length);
  });

  it('rescue, show and check read the whole device', () => {
    const outDir = path.join(dir, 'rescued');
    fs.mkdirSync(outDir);
    const r = sbx(['rescue', dev, outDir]);
    expect([r.code, r.doc.stats?.numberOfBytesProcessed, r.doc.stats?.numberOfBlocksProcessed]).to.deep.equal([0, image.length, 4]);
    expect(fs.readFileSync(path.join(outDir, '0A0000000002')).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')))).to.equal(true);
    const show = sbx(['show', dev]);
    expect((show.doc as unknown as { blocks: { foundAtByte: number }[] }).blocks.map((b) => b.foundAtByte)).to.deep.equal([4096]);
    const check = sbx(['check', dev]);
    expect([check.code, check.doc.stats?.numberOfBlocksPassedCheckMetadata, check.doc.stats?.numberOfBlocksPassedCheckData]).to.deep.equal([0, 1, 3]);
  });
});
