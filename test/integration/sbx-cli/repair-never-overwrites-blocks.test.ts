// `sbx repair` writes in place: it must never put a metadata copy or a rebuilt block over a valid block of the
// container, whether the whole container is shifted in its file or only a stretch of it.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { expect } from 'chai';
import { sbx, vector as v } from '../../helpers/blkar-cli';

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('blkfs sbx repair never overwrites a valid block', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-repair-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a container that starts 128 bytes into its file (exit 1, nothing written) and names the sort that aligns it', () => {
    const c = path.join(dir, 'shifted.ecsbx');
    fs.writeFileSync(c, Buffer.concat([Buffer.alloc(128), fs.readFileSync(v('ec17-default-200k.damaged.ecsbx'))]));
    const before = sha(c);
    const r = sbx(['repair', '-y', '--burst', '12', c]);
    expect(r.code, r.text).to.equal(1);
    expect(r.text).to.match(/byte 128 \(0x80\).*`blkfs sbx sort --from 128 --force-misalign SBX COPY`/);
    expect(sha(c)).to.equal(before);
    // The step it names works: the aligned copy repairs to the original container.
    const copy = path.join(dir, 'aligned.ecsbx');
    expect(sbx(['sort', '--from', '128', '--force-misalign', c, copy]).code).to.equal(0);
    expect(sbx(['repair', '-y', copy]).code).to.equal(0);
    expect(sha(copy)).to.equal(sha(v('ec17-default-200k.ecsbx')));
  });

  it('leaves a damaged metadata copy alone when a shifted valid block of the container overlaps it', () => {
    const c = path.join(dir, 'stretch.ecsbx');
    const bytes = fs.readFileSync(v('ec17-default-200k.ecsbx'));
    // Metadata copy 1 sits at 6656 (block 13); a copy of block 1 lands 128 bytes into it, across block 14.
    bytes.fill(0, 6656, 6656 + 128);
    bytes.copy(bytes, 6656 + 128, 512, 1024);
    fs.writeFileSync(c, bytes);
    const r = sbx(['repair', '-y', c]);
    expect(r.code, r.text).to.equal(0);
    expect(fs.readFileSync(c).equals(bytes)).to.equal(true);
    expect(r.text).to.contain('Left invalid metadata block at 6656 (0x1A00) untouched');
  });
});
