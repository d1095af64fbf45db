// NTFS sparse files (made by ntfs-3g's own tools): TSK 4.11 lists only the runs on the medium, never the
// sparse ones, so "placed fewer bytes than the size" is no broken chain there — NTFS keeps every run in $MFT.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { FileReportJson } from '../../../src/files/file-report';
import { truthMapfile } from '../../helpers/truth-mapfile';
import { ntfsImage, ntfsMftRecord, offsetOf, randomTree } from '../../helpers/filesystems';
import { blkfs, cleanup, tempDir } from '../mount/harness';

describe('files: NTFS sparse files (offline, real TSK)', function () {
  let dir: string;
  before(() => (dir = tempDir('files-ntfs')));
  after(() => cleanup(dir));

  async function report(img: string, mapText: string, tag: string): Promise<FileReportJson> {
    const map = path.join(dir, `${tag}.map`);
    fs.writeFileSync(map, mapText);
    const r = await blkfs(['files', img, map, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as FileReportJson;
  }

  it('a healthy sparse file is intact (not "unknown, a broken chain"); bad data in it is damaged, a bad $MFT record never intact', async () => {
    const data = randomTree({ 'head.bin': 5000 })['head.bin'];
    const image = ntfsImage(dir, 'sparse', { 'tail.bin': data });
    // Grown to 300000 bytes by ntfs-3g: all past the first 5000 is a sparse run (istat: "Non-Resident, Sparse").
    const inode = /^r\/r (\d+)-128-\d+:\s+tail\.bin$/m.exec(execFileSync('fls', [image], { encoding: 'utf8' }))![1];
    execFileSync('ntfstruncate', [image, inode, '0x80', '300000'], { stdio: 'ignore' });
    expect(execFileSync('istat', [image, inode], { encoding: 'utf8' })).to.match(/Non-Resident, Sparse\s+size: 300000/);
    const size = fs.statSync(image).size;

    const clean = (await report(image, truthMapfile(size, []), 'clean')).entries.find((e) => e.path === '/tail.bin');
    expect(clean).to.include({ verdict: 'intact', size: 300000, rescued: 300000, bad: 0, untried: 0 });

    const at = offsetOf(fs.readFileSync(image), data);
    const inData = (await report(image, truthMapfile(size, [{ offset: at + 1024, length: 512 }]), 'data')).entries.find((e) => e.path === '/tail.bin');
    expect(inData).to.include({ verdict: 'damaged', bad: 512 });

    // Its MFT record (where its runs are written) in a bad sector, the image still holding the bytes: not intact.
    const mftRecord = ntfsMftRecord(fs.readFileSync(image), Number(inode));
    const inMft = (await report(image, truthMapfile(size, [{ offset: mftRecord, length: 512 }]), 'mft')).entries.find((e) => e.path === '/tail.bin');
    expect(inMft?.verdict ?? 'not listed').to.not.equal('intact');
  });
});
