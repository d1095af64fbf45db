// NTFS with one user file's MFT record unreadable: TSK 4.11 gives up the whole directory walk ("Error walking
// directory") and lists no file at all. The report must say its list may lack files, not "0 files" as if whole,
// and a mount reads the layout again once that record is read.
import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { ntfsImage, ntfsMftRecord, randomTree } from '../../helpers/filesystems';
import { truthMapfile } from '../../helpers/truth-mapfile';
import { blkfs, cleanup, mount, sleep, stopChild, tempDir, umount } from '../mount/harness';

const MISSING = /^part of the filesystem metadata, so files may be missing from this list \(The Sleuth Kit: .*Error walking directory/;

async function report(args: string[]): Promise<FileReportJson> {
  const r = await blkfs(['files', ...args, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as FileReportJson;
}

const files = (rep: FileReportJson) => rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path, e.verdict]);

describe('files: an NTFS MFT record TSK cannot read (real TSK)', function () {
  let dir: string;
  let image: string;
  let record: number;
  let nbdkit: ChildProcess | undefined;

  before(() => {
    dir = tempDir('files-ntfs-walk');
    const tree = randomTree({ 'one.txt': 3000, 'two.bin': 30_000 });
    image = ntfsImage(dir, 'walk', tree);
    const inode = /^r\/r (\d+)-128-\d+:\s+one\.txt$/m.exec(execFileSync('fls', [image], { encoding: 'utf8' }))![1];
    record = ntfsMftRecord(fs.readFileSync(image), Number(inode));
  });
  after(async () => {
    await cleanup();
    await stopChild(nbdkit);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('offline: the report says files may be missing from its list, not "0 files" as if it were whole', async () => {
    const map = path.join(dir, 'record-bad.map');
    fs.writeFileSync(map, truthMapfile(fs.statSync(image).size, [{ offset: record, length: 1024 }]));
    const rep = await report([image, map]);
    expect(files(rep)).to.deep.equal([]); // TSK's own limit: it lists nothing past the record
    expect(rep.problems).to.have.length(1);
    expect(rep.problems[0]).to.match(MISSING);
    const text = await blkfs(['files', image, map]);
    expect(text.stdout).to.match(/^not read: part of the filesystem metadata, so files may be missing/m);
  });

  it('live: says so too, and lists the files once the record is read, with no remount', async () => {
    const size = fs.statSync(image).size;
    const trigger = path.join(dir, 'refuse-record');
    fs.writeFileSync(trigger, '');
    const sock = path.join(dir, 'nbd.sock');
    // A real NBD server whose reads of the record fail for a passing reason (ENOMEM) while the trigger file exists.
    const pread =
      `if [ -e ${trigger} ] && [ $4 -lt ${record + 1024} ] && [ $(($4 + $3)) -gt ${record} ]; then echo 'ENOMEM not now' >&2; exit 1; fi; ` +
      `dd if=${image} skip=$4 count=$3 iflag=skip_bytes,count_bytes status=none`;
    nbdkit = spawn('nbdkit', ['-f', '-r', '-U', sock, 'eval', `get_size=echo ${size}`, `pread=${pread}`], { stdio: 'ignore' });
    for (let i = 0; i < 250 && !fs.existsSync(sock); i++) await sleep(20);
    const mnt = path.join(dir, 'mnt');
    await mount(`nbd+unix:///?socket=${sock}`, mnt, ['--cache', path.join(dir, 'cache'), '--readahead', '0']);

    const first = await report([mnt]);
    expect(files(first)).to.deep.equal([]);
    expect(first.problems.join('\n')).to.match(MISSING);
    fs.rmSync(trigger);
    await fs.promises.readFile(path.join(mnt, 'raw')); // a reader rescues the record (and the rest)
    let now = await report([mnt]);
    for (let i = 0; i < 100 && files(now).length === 0; i++) {
      await sleep(100);
      now = await report([mnt]);
    }
    expect(files(now)).to.deep.equal([
      ['/one.txt', 'intact'],
      ['/two.bin', 'intact'],
    ]);
    expect(now.problems).to.deep.equal([]);
    await umount(mnt);
  });
});
