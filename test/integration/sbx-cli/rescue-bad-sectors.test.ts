// `blkfs sbx rescue` on a medium with bad sectors (issue 8): /raw of a real blkfs mount over nbdkit whose ddrescue
// filter fails reads of the bad ranges, so rescue meets real EIOs from a real file. It skips each unreadable
// region (logged, counted and listed in its report), keeps scanning, and never rescues a block it could not read
// whole.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mount, startNbdkit, tempDir, writeMedium } from '../mount/harness';
import { VECTORS_DIR } from '../../helpers/vectors-dir';



describe('sbx rescue on a medium with bad sectors (real FUSE /raw, nbdkit EIO)', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = tempDir('sbx-rescue-eio')));
  after(() => cleanup(dir));

  it('skips the unreadable regions, reports them, and rescues every block it can read whole', async () => {
    const a = fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')); // UID 0A0000000002: metadata + seqs 1..3, 512-byte blocks
    const b = fs.readFileSync(path.join(VECTORS_DIR, 'v2-small.sbx')); // UID 0A0000000006: 128-byte blocks
    const image = Buffer.alloc(1 << 20);
    const A = 0x10000;
    const B = 0x80000;
    a.copy(image, A);
    b.copy(image, B);
    // One bad sector under A's seq 2 block, and 32 KiB of bad sectors between the containers.
    const bad = [
      { offset: A + 1024, length: 512 },
      { offset: 0x40000, length: 0x8000 },
    ];
    const { imagePath, mapPath } = writeMedium(dir, image, bad);
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    const mnt = path.join(dir, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache')]);
    const out = path.join(dir, 'out');
    fs.mkdirSync(out);

    const r = await blkfs(['sbx', 'rescue', path.join(mnt, 'raw'), out, '--json']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout);
    expect(report.stats).to.deep.equal({
      numberOfBytesProcessed: image.length,
      numberOfBlocksProcessed: 3 + b.length / 128,
      numberOfBlocksProcessedMetadata: 2,
      numberOfBlocksProcessedData: 2 + b.length / 128 - 1,
      numberOfBytesUnreadable: 512 + 0x8000,
    });
    expect(report.unreadableRanges).to.deep.equal(bad.map((x) => ({ start: x.offset, end: x.offset + x.length })));
    expect(report.error).to.equal(null);
    // A's seq 2 is lost (never zeros in its place), the rest of A and all of B are rescued byte for byte.
    expect(fs.readFileSync(path.join(out, '0A0000000002')).equals(Buffer.concat([a.subarray(0, 1024), a.subarray(1536, 2048)]))).to.equal(true);
    expect(fs.readFileSync(path.join(out, '0A0000000006')).equals(b)).to.equal(true);

    // Human mode logs each skipped region as it happens and lists them after the counts. A second scan costs the
    // device nothing: good sectors come from the cache, and the bad ones are not asked for again.
    const readsBefore = readNbdkitLog(nbd.logFile).reads.length;
    const human = await blkfs(['sbx', 'rescue', path.join(mnt, 'raw'), fs.mkdtempSync(path.join(dir, 'h-')), '--pv', '0']);
    expect(human.code).to.equal(0);
    expect(human.stderr).to.contain(`Unreadable bytes ${A + 1024} to ${A + 1536} (exclusive) skipped: EIO`);
    expect(human.stdout).to.contain('Number of bytes unreadable            : 33280\n');
    expect(human.stdout).to.contain(`Unreadable, skipped : bytes ${0x40000} to ${0x48000} (exclusive), 32768 bytes\n`);
    expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(readsBefore);
  });
});
