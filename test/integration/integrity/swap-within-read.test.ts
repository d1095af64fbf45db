// A disc swapped out and back in while one device read runs (A→B→A on a real loop device): the drive looks as it
// did before the read, yet the read may have returned B's bytes. The guard must still throw that read away.
import { expect } from 'chai';
import * as fs from 'fs';
import { BlockSource } from '../../../src/source/block-source';
import { GuardedSource, MediumChangedError, mediumLooker } from '../../../src/source/medium-watch';
import { attachLoop, detachAllLoops, swapLoop } from '../../helpers/loop-device';
import { tempDir } from '../mount/harness';
import { writeTwinDiscs } from '../../helpers/twin-discs';

const SIZE = 1024 * 1024;

describe('integrity: a read that raced a swap and a swap back (real loop device)', function () {
  this.timeout(30_000);
  let tmp: string;
  afterEach(async () => {
    await detachAllLoops();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("is discarded, never handed up as the first disc's bytes", async () => {
    tmp = tempDir('aba');
    const { B, aPath, bPath } = writeTwinDiscs(tmp, SIZE, 0, 31);
    const ld = await attachLoop(aPath);
    // The device read lands while disc B is in; by the time it returns, disc A is back.
    const drive: BlockSource = {
      size: SIZE,
      sectorSize: 512,
      async read(offset, length) {
        await swapLoop(ld, bPath);
        const fh = await fs.promises.open(ld, 'r');
        const buf = Buffer.alloc(length);
        try {
          await fh.read(buf, 0, length, offset);
        } finally {
          await fh.close();
        }
        await swapLoop(ld, aPath);
        return buf;
      },
      stats: () => ({ reads: 0, bytes: 0, failedReads: 0, lostReads: 0, transientReads: 0, reconnects: 0 }),
      close: async () => undefined,
    };
    const guarded = new GuardedSource(drive, mediumLooker({ kind: 'device', path: ld }), ld);
    const got = await guarded.read(65536, 4096).catch((e: unknown) => e);
    if (Buffer.isBuffer(got)) expect(got.equals(B.subarray(65536, 65536 + 4096)), 'the read was answered by disc B').to.equal(true);
    expect(got, "disc B's bytes handed up as disc A's").to.be.instanceOf(MediumChangedError);
    await guarded.close();
  });
});
