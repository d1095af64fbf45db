// The metadata phase of blkfs acquire runs alongside the copying pass, with a budget of TSK's own (foreground) device
// reads (real FUSE, nbdkit's log filter, TSK on /raw). On FAT, tsk_loaddb's orphan-file search reads every free
// cluster: the pass, reading ahead of it, serves most of that from the cache, and its background reads do not spend
// TSK's budget, so on a healthy medium the layout is complete when acquire returns. At the first failed device read
// (the pass's, here) TSK is stopped, and the layout is read again after the acquisition, from the cache alone. TSK
// itself past its budget: test/unit/server/metadata-alongside.test.ts.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { fatImage, randomTree } from '../../helpers/filesystems';
import { overlaps, readNbdkitLog, union } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mapBlocks, mount, readStatus, sleep, startNbdkit, tempDir, truthMapfile, umount } from '../mount/harness';

const MiB = 1 << 20;
/** metadataBudget() of a 64 MiB medium: max(32 MiB, 2%). */
const BUDGET = 32 * MiB;

async function layoutState(mnt: string): Promise<string> {
  return ((await readStatus(mnt)) as unknown as { files: { layout: string } }).files.layout;
}

describe('files: the metadata phase of acquire has a budget of device reads (real FUSE, nbdkit, TSK)', function () {
  let dir: string;
  let image: string;
  let bytes: Buffer;
  const tree = randomTree({ 'photo.jpg': 300_000 }, 'budget');

  before(() => {
    dir = tempDir('files-budget');
    image = fatImage(dir, 'fat64', tree, 64 * 1024, ['-F', '32']);
    bytes = fs.readFileSync(image);
  });
  after(() => cleanup(dir));

  it("FAT larger than the budget, healthy: the pass's reads do not spend TSK's budget, the layout is complete when acquire returns, each byte read once", async () => {
    const truth = path.join(dir, 'truth-a.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, []));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'a' });
    const mnt = path.join(dir, 'mnt-a');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-a')]);
    const acq = await blkfs(['acquire', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.contain('blkfs: reading the filesystem metadata alongside the copying (The Sleuth Kit, its reads first)\n');
    expect(acq.stderr).not.to.contain('metadata phase stopped');
    // TSK read the whole volume (its orphan search), mostly from what the pass had put in the cache.
    const status = await readStatus(mnt);
    expect(status.deviceBytes).to.be.at.least(bytes.length);
    expect(status.foregroundBytes).to.be.lessThan(BUDGET);
    expect(await layoutState(mnt)).to.equal('ready');
    const files = await blkfs(['files', mnt, '--json']);
    expect(files.code, files.stderr).to.equal(0);
    const rep = JSON.parse(files.stdout) as FileReportJson;
    expect(rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path.toLowerCase(), e.size, e.verdict])).to.deep.equal([['/photo.jpg', 300_000, 'intact']]);
    // Every byte read once, by TSK or the pass, the map complete.
    const log = readNbdkitLog(nbd.logFile);
    expect(log.failed).to.deep.equal([]);
    expect(log.okBytes).to.equal(bytes.length);
    expect(union(log.ok)).to.deep.equal([{ offset: 0, length: bytes.length }]);
    const map = mapBlocks(fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8'));
    expect(map.map((b) => b.status)).to.deep.equal(['+']);
    await umount(mnt);
    await nbd.stop();
  });

  it('FAT with a bad sector in its free space: the pass meets it, TSK is stopped at that failed read, the report is read after', async () => {
    const bad = { offset: 8 * MiB, length: 4096 };
    const truth = path.join(dir, 'truth-b.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, [bad]));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'b' });
    const mnt = path.join(dir, 'mnt-b');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-b')]);
    const acq = await blkfs(['acquire', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.match(
      /blkfs: the filesystem metadata phase stopped after \d+\.\d MiB read for it: a device read failed, so the medium has bad areas: the passes read around them, not The Sleuth Kit in its own order; the file report is read after the acquisition\n/,
    );
    const log = readNbdkitLog(nbd.logFile);
    expect(overlaps(log.ok)).to.deep.equal([]);
    expect(log.okBytes).to.equal(bytes.length - bad.length);
    const map = mapBlocks(fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8'));
    expect(map.filter((b) => b.status !== '+')).to.deep.equal([{ pos: bad.offset, size: bad.length, status: '-' }]);
    for (let i = 0; (await layoutState(mnt)) !== 'ready'; i++) {
      expect(i, 'layout read again after the acquisition').to.be.lessThan(300);
      await sleep(50);
    }
    const rep = JSON.parse((await blkfs(['files', mnt, '--json'])).stdout) as FileReportJson;
    expect(rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path.toLowerCase(), e.verdict])).to.deep.equal([['/photo.jpg', 'intact']]);
    await umount(mnt);
    await nbd.stop();
  });
});
