// Sparse files on ext2/ext3/ext4 (made by mke2fs -d): TSK 4.11 lists no run for a hole on ext2/3 (indirect blocks)
// nor after an ext4 file's last extent, so "placed fewer bytes than the size" is no broken chain there — the inode
// and its block map say where every block lies. FAT and ISO9660 have no holes: there it still is one.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { truthMapfile, BadRange } from '../../helpers/truth-mapfile';
import { offsetOf, randomTree } from '../../helpers/filesystems';
import { blkfs, cleanup, tempDir } from '../mount/harness';

const MiB = 1024 * 1024;

describe('files: sparse files on ext2, ext3, ext4 (offline, real TSK)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('files-ext-sparse')));
  after(() => cleanup(dir));

  async function verdicts(img: string, bad: BadRange[], tag: string): Promise<Record<string, string>> {
    const map = path.join(dir, `${tag}.map`);
    fs.writeFileSync(map, truthMapfile(fs.statSync(img).size, bad));
    const r = await blkfs(['files', img, map, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const entries = (JSON.parse(r.stdout) as FileReportJson).entries.filter((e) => e.kind === 'file');
    return Object.fromEntries(entries.map((e) => [e.path, `${e.verdict} ${e.rescued}`]));
  }

  for (const type of ['ext2', 'ext3', 'ext4']) {
    it(`${type}: a healthy sparse file is intact (not "a broken allocation chain"); bad data in it is damaged, a bad inode never intact`, async () => {
      const head = randomTree({ head: 5000 }).head;
      const src = fs.mkdtempSync(path.join(dir, `${type}-src-`));
      fs.writeFileSync(path.join(src, 'tailhole'), head);
      fs.truncateSync(path.join(src, 'tailhole'), MiB); // data, then a hole to the end
      fs.writeFileSync(path.join(src, 'midhole'), Buffer.alloc(0));
      fs.truncateSync(path.join(src, 'midhole'), MiB);
      const fd = fs.openSync(path.join(src, 'midhole'), 'r+');
      fs.writeSync(fd, head.subarray(0, 1000), 0, 1000, 500_000); // a hole, data past the direct blocks, a hole
      fs.closeSync(fd);
      const img = path.join(dir, `${type}.img`);
      execFileSync('mke2fs', ['-q', '-F', '-t', type, '-b', '1024', '-d', src, img, '8M'], { env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' } });

      expect(await verdicts(img, [], 'clean')).to.deep.equal({ '/midhole': `intact ${MiB}`, '/tailhole': `intact ${MiB}` });

      const at = offsetOf(fs.readFileSync(img), head);
      expect((await verdicts(img, [{ offset: at + 1024, length: 512 }], 'data'))['/tailhole']).to.match(/^damaged /);

      // The inode (where its block map starts) in a bad sector, the image still holding the bytes: not intact.
      const where = /located at block (\d+), offset (0x[0-9a-f]+)/.exec(execFileSync('debugfs', ['-R', 'imap /tailhole', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))!;
      const inode = Number(where[1]) * 1024 + Number(where[2]);
      const sector = inode - (inode % 512);
      expect((await verdicts(img, [{ offset: sector, length: 512 }], 'inode'))['/tailhole'] ?? 'not listed').to.not.match(/^intact/);
    });
  }
});
