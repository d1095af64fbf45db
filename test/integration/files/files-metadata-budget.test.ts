// The metadata phase of blkfs acquire has a budget of device reads (real FUSE, nbdkit's log filter, TSK on /raw).
// On FAT, tsk_loaddb's orphan-file search reads every free cluster: without the budget the "metadata first" phase
// would read the whole medium in TSK's order. Past the budget TSK is stopped, the passes read the rest (each byte
// once), and the layout is read again after the acquisition, from the cache alone.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { fatImage, randomTree } from '../../helpers/filesystems';
import { readNbdkitLog, union } from '../../helpers/nbdkit-log';
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

  it('FAT: TSK is stopped after the budget, the passes read the rest once each, the report is read after from the cache', async () => {
    const truth = path.join(dir, 'truth-a.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, []));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'a' });
    const mnt = path.join(dir, 'mnt-a');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-a')]);
    const acq = await blkfs(['acquire', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.match(
      /blkfs: the filesystem metadata phase stopped after 3\d\.\d MiB: The Sleuth Kit was reading more than the metadata \(on FAT: its orphan-file search, which reads every free cluster\); the file report is read after the acquisition\n/,
    );
    // The passes read 4 MiB at a time, TSK's reads through /raw are at most 1 MiB: what came before the first
    // large read is the metadata phase, about the budget (plus the reads in flight when it was crossed).
    const log = readNbdkitLog(nbd.logFile);
    const firstPassRead = log.reads.findIndex((r) => r.count > MiB);
    expect(firstPassRead).to.be.greaterThan(0);
    const phaseBytes = log.reads.slice(0, firstPassRead).reduce((n, r) => n + r.count, 0);
    expect(phaseBytes).to.be.within(BUDGET, BUDGET + 8 * MiB);
    // Every byte read once, the map complete.
    expect(log.failed).to.deep.equal([]);
    expect(log.okBytes).to.equal(bytes.length);
    expect(union(log.ok)).to.deep.equal([{ offset: 0, length: bytes.length }]);
    const map = mapBlocks(fs.readFileSync(path.join(mnt, 'mapfile'), 'utf8'));
    expect(map.map((b) => b.status)).to.deep.equal(['+']);
    // The layout is read again once every sector is tried, unasked, and from the cache alone.
    for (let i = 0; (await layoutState(mnt)) !== 'ready'; i++) {
      expect(i, 'layout read again after the acquisition').to.be.lessThan(300);
      await sleep(50);
    }
    const files = await blkfs(['files', mnt, '--json']);
    expect(files.code, files.stderr).to.equal(0);
    const rep = JSON.parse(files.stdout) as FileReportJson;
    expect(rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path.toLowerCase(), e.size, e.verdict])).to.deep.equal([['/photo.jpg', 300_000, 'intact']]);
    expect(readNbdkitLog(nbd.logFile).okBytes).to.equal(bytes.length);
    await umount(mnt);
    await nbd.stop();
  });

  it('FAT with a bad sector in its free space: TSK is stopped at it, the passes map it, the report is read after', async () => {
    const bad = { offset: 8 * MiB, length: 4096 };
    const truth = path.join(dir, 'truth-b.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, [bad]));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'b' });
    const mnt = path.join(dir, 'mnt-b');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-b')]);
    const acq = await blkfs(['acquire', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.match(/blkfs: the filesystem metadata phase stopped after \d+\.\d MiB: The Sleuth Kit met a bad sector/);
    const log = readNbdkitLog(nbd.logFile);
    const firstFailed = log.reads.findIndex((r) => r.outcome === 'failed');
    const firstPassRead = log.reads.findIndex((r) => r.count > MiB);
    expect(firstFailed).to.be.within(0, firstPassRead);
    expect(log.reads.slice(0, firstPassRead).reduce((n, r) => n + r.count, 0)).to.be.lessThan(BUDGET);
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
