// The file layout is read again once sectors The Sleuth Kit could not read are read: a FAT whose allocation table
// sector the server first refuses for a passing reason (NBD ENOMEM) lists its files as unknown; once that sector
// is read (here by a reader of /raw) the report says intact, without a remount, and no sector was read twice.
import { expect } from 'chai';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { overlaps, readNbdkitLog } from '../../helpers/nbdkit-log';
import { fatImage, randomTree } from '../../helpers/filesystems';
import { blkfs, cleanup, mount, sleep, stopChild, tempDir, umount } from '../mount/harness';

async function report(mnt: string): Promise<FileReportJson> {
  const r = await blkfs(['files', mnt, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as FileReportJson;
}

const verdicts = (rep: FileReportJson) => rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path.toLowerCase(), e.verdict]);

describe('files: the layout is read again once what TSK could not read is read (real FUSE, nbdkit, TSK)', function () {
  let dir: string;
  let nbdkit: ChildProcess | undefined;

  before(() => (dir = tempDir('files-reread')));
  after(async () => {
    await cleanup();
    await stopChild(nbdkit);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a FAT sector refused with ENOMEM while TSK read the layout: files unknown, then intact once it is read', async () => {
    const tree = randomTree({ 'one.bin': 30_000, 'two.txt': 3000 });
    // 256 reserved sectors: FAT1 lies past the first 64 KiB the mount reads to identify the medium.
    const image = fatImage(dir, 'fat', tree, 2048, ['-R', '256']);
    const bytes = fs.readFileSync(image);
    const fat1 = bytes.readUInt16LE(14) * 512; // reserved sectors, by the on-disk format
    const trigger = path.join(dir, 'refuse-fat');
    fs.writeFileSync(trigger, '');
    const sock = path.join(dir, 'nbd.sock');
    const log = path.join(dir, 'nbd.log');
    // A real NBD server whose reads of FAT1's first sector fail with ENOMEM while the trigger file exists.
    const pread =
      `if [ -e ${trigger} ] && [ $4 -lt ${fat1 + 512} ] && [ $(($4 + $3)) -gt ${fat1} ]; then echo 'ENOMEM not now' >&2; exit 1; fi; ` +
      `dd if=${image} skip=$4 count=$3 iflag=skip_bytes,count_bytes status=none`;
    nbdkit = spawn('nbdkit', ['-f', '-r', '-U', sock, '--filter=log', 'eval', `get_size=echo ${bytes.length}`, `pread=${pread}`, `logfile=${log}`], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 250 && !fs.existsSync(sock); i++) await sleep(20);
    const mnt = path.join(dir, 'mnt');
    await mount(`nbd+unix:///?socket=${sock}`, mnt, ['--cache', path.join(dir, 'cache'), '--readahead', '0']);

    expect(verdicts(await report(mnt))).to.deep.equal([
      ['/one.bin', 'unknown'],
      ['/two.txt', 'unknown'],
    ]);
    fs.rmSync(trigger);
    const raw = await fs.promises.readFile(path.join(mnt, 'raw')); // a reader rescues the FAT sector (and the rest)
    expect(raw.equals(bytes)).to.equal(true);
    let now = await report(mnt);
    for (let i = 0; i < 100 && verdicts(now).some(([, v]) => v !== 'intact'); i++) {
      await sleep(100);
      now = await report(mnt);
    }
    expect(verdicts(now)).to.deep.equal([
      ['/one.bin', 'intact'],
      ['/two.txt', 'intact'],
    ]);
    await umount(mnt);
    expect(overlaps(readNbdkitLog(log).ok)).to.deep.equal([]); // TSK's second pass read only what was not cached
  });
});
