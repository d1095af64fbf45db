// ISO9660 stores a file of 4 GiB or more in several extents, one directory record each; TSK lists each record as a
// file of the same name. The report lists the file once, its size the sum, judged by all its extents.
// The image: `xorriso -as mkisofs -iso-level 3 -R -J` (1.5.4) of huge.bin (4500 MiB of zeros, a sparse file) and
// after.txt ("small\n"), piped through `cp --sparse=always`: 4718968832 bytes, all zeros past its first 69632, which
// the fixture holds (making it takes ~25 s of writing zeros).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { FileReportJson } from '../../../src/files/file-report';
import { truthMapfile } from '../../helpers/truth-mapfile';
import { blkfs, cleanup, tempDir } from '../mount/harness';

const ISO_BYTES = 4718968832;
const HUGE = 4500 * 1024 * 1024;

describe('files: an ISO9660 file over 4 GiB (several extents; offline, real TSK)', function () {
  let dir: string;
  let iso: string;
  before(() => {
    dir = tempDir('files-iso-big');
    iso = path.join(dir, 'big.iso');
    fs.writeFileSync(iso, zlib.gunzipSync(fs.readFileSync(path.join(__dirname, '../../../../test/integration/files/fixtures/iso9660-multiextent-head.gz'))));
    fs.truncateSync(iso, ISO_BYTES);
  });
  after(() => cleanup(dir));

  async function huge(bad: { offset: number; length: number }[], tag: string) {
    const map = path.join(dir, `${tag}.map`);
    fs.writeFileSync(map, truthMapfile(ISO_BYTES, bad));
    const r = await blkfs(['files', iso, map, '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as FileReportJson;
    return { summary: report.summary, entries: report.entries.filter((e) => e.path === '/huge.bin') };
  }

  it('is one file of the whole size: intact when all is read, damaged by a bad sector in its second extent', async () => {
    const clean = await huge([], 'clean');
    expect(clean.entries.map((e) => [e.verdict, e.size])).to.deep.equal([['intact', HUGE]]);
    const tail = await huge([{ offset: 2200000 * 2048, length: 2048 }], 'tail');
    expect(tail.entries.map((e) => [e.verdict, e.size, e.bad])).to.deep.equal([['damaged', HUGE, 2048]]);
    expect(tail.summary).to.include({ files: 2, damaged: 1, intact: 1 });
  });
});
