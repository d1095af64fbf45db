// An ext4 file of many extents, whose extent tree has several leaves: TSK 4.11 cannot follow it ("No filler entry
// for 0") and lists the file with no data, on an image with no bad sector at all. The report must name that as a
// limit of the report, not send anyone looking for bad sectors; a bad extent block is still blamed.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { EntryReport, FileReportJson } from '../../../src/files/file-report';
import { BadRange, truthMapfile } from '../../helpers/truth-mapfile';
import { randomTree } from '../../helpers/filesystems';
import { blkfs, cleanup, tempDir } from '../mount/harness';

describe('files: ext4 extent trees The Sleuth Kit cannot follow (offline, real TSK)', function () {
  this.timeout(60_000);
  let dir: string;
  let img: string;
  before(() => {
    dir = tempDir('files-ext4-extent-tree');
    const src = fs.mkdtempSync(path.join(dir, 'src-'));
    // 300 blocks of data 3 blocks apart: 300 extents, 4 leaves of at most 84 under the inode (no loop mount needed).
    const fd = fs.openSync(path.join(src, 'fragmented.bin'), 'w');
    const block = randomTree({ b: 1024 }).b;
    for (let k = 0; k < 300; k++) fs.writeSync(fd, block, 0, 1024, k * 4096);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(src, 'plain.txt'), randomTree({ p: 3000 }).p);
    img = path.join(dir, 'ext4.img');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-d', src, img, '8M'], { env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' } });
  });
  after(() => cleanup(dir));

  async function entries(bad: BadRange[], tag: string): Promise<Map<string, EntryReport>> {
    const map = path.join(dir, `${tag}.map`);
    fs.writeFileSync(map, truthMapfile(fs.statSync(img).size, bad));
    const r = await blkfs(['files', img, map, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return new Map((JSON.parse(r.stdout) as FileReportJson).entries.map((e) => [e.path, e]));
  }

  it('with every sector rescued, the file is unknown as a limit of the report, not blamed on bad or unread sectors', async () => {
    const rep = await entries([], 'clean');
    const e = rep.get('/fragmented.bin')!;
    expect(e).to.include({ verdict: 'unknown', bad: 0, untried: 0 });
    expect(e.reason).to.match(/^not damage on the medium: every sector of the filesystem's metadata is rescued/);
    expect(e.reason).to.match(/ext4 extent trees of more than one leaf\); a limit of this report/);
    expect(e.reason).to.not.match(/bad or not read/);
    expect(rep.get('/plain.txt')).to.include({ verdict: 'intact' });
  });

  it('with one of its extent blocks bad, the file is unknown and the bad metadata is named as the likely cause', async () => {
    // Its first leaf, from e2fsprogs (not TSK): "(ETB0):1623".
    const stat = execFileSync('debugfs', ['-R', 'stat /fragmented.bin', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const leaf = Number(/\(ETB0\):(\d+)/.exec(stat)![1]) * 1024;
    const e = (await entries([{ offset: leaf, length: 512 }], 'leaf')).get('/fragmented.bin')!;
    expect(e).to.include({ verdict: 'unknown' });
    expect(e.reason).to.match(/^The Sleuth Kit could not read its metadata \(where its data lies.*\); 512 bytes of the filesystem's metadata are bad or not read, which may be why/);
  });
});
