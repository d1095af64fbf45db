import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { manifestText, payloadOxum, safeBagName } from '../../../src/archive/bagit';
import { checksumsText } from '../../../src/archive/checksums-text';
import { ImageDigests } from '../../../src/archive/image-digests';
import { UserError } from '../../../src/errors';
import { choosePartSize, MIN_PART_SIZE, planParts, productionOrder, s3PartsFit } from '../../../src/archive/part-plan';
import { makeContainerSpec, standardMetadata } from '../../../src/sbx/format/container-spec';
import { Layout, LayoutParams } from '../../../src/sbx/format/layout';
import { readContainer } from '../../../src/sbx/format/random-access';
import { patternBuffer } from '../../helpers/memory-source';

describe('archive/part-plan parts of data/image.sbx', () => {
  const cases: [string, LayoutParams, number][] = [
    ['v17 10+2 burst 12', { version: 17, d: 10, p: 2, burst: 12 }, 3_000_000],
    ['v19 4+3 burst 0', { version: 19, d: 4, p: 3, burst: 0 }, 2_500_000],
    ['v1', { version: 1 }, 1_200_000],
  ];
  for (const [name, lp, fileSize] of cases) {
    it(`${name}: each part renders from its own image range only; metadata parts go last`, async () => {
      const layout = new Layout(lp);
      const partSize = 64 * layout.blockSize * 7;
      const parts = planParts(lp, fileSize, partSize);
      expect(parts.reduce((n, p) => n + p.size, 0)).to.equal(layout.containerSize(fileSize));
      expect(parts[0].metadata).to.equal(true);
      const order = productionOrder(parts);
      expect(order[order.length - 1].n).to.equal(1);
      const image = patternBuffer(fileSize);
      const metadata = standardMetadata(layout, { fnm: 'a', snm: 'b', fsz: fileSize, fdt: 1, sdt: 1, hsh: { type: 'sha256', digest: Buffer.alloc(32) } });
      const spec = makeContainerSpec({ version: lp.version, d: lp.d, p: lp.p, burst: lp.burst, uid: Buffer.alloc(6, 7), fileSize, metadata });
      const whole = await readContainer(spec, 0, layout.containerSize(fileSize), { size: fileSize, read: async (o, l) => image.subarray(o, o + l) });
      for (const p of parts) {
        // A reader that refuses anything outside the part's range proves the range is enough.
        const strict = {
          size: fileSize,
          read: async (o: number, l: number) => {
            if (o < p.imageStart || o + l > p.imageEnd) throw new Error(`part ${p.n} read [${o}, ${o + l}) outside [${p.imageStart}, ${p.imageEnd})`);
            return image.subarray(o, o + l);
          },
        };
        const bytes = await readContainer(spec, p.offset, p.size, strict);
        expect(bytes.equals(whole.subarray(p.offset, p.offset + p.size)), `part ${p.n}`).to.equal(true);
      }
    });
  }

  it('parts are at least S3 minimum, whole blocks, at most 10,000', () => {
    expect(choosePartSize(100, 512, 1)).to.equal(MIN_PART_SIZE);
    expect(choosePartSize(200e9, 4096) * 10_000).to.be.at.least(200e9);
    expect(choosePartSize(200e9, 4096) % 4096).to.equal(0);
  });

  it('parts are at most 1 GiB (held and hashed in one piece: Node hashes under 2 GiB at once); S3 past 10,000 of them is refused', () => {
    expect(choosePartSize(20 * 2 ** 40, 4096)).to.equal(2 ** 30); // 20 TiB: 20,480 parts, for a directory
    expect(choosePartSize(100, 512, 2 ** 31)).to.equal(2 ** 30);
    expect(() => s3PartsFit(20 * 2 ** 40, 2 ** 30)).to.throw(UserError, /needs 20480 parts .* S3 takes at most 10000/);
    expect(() => s3PartsFit(5 * 2 ** 40, choosePartSize(5 * 2 ** 40, 4096))).to.not.throw();
  });
});

describe('archive/bagit and checksums text', () => {
  it('manifest lines, Payload-Oxum and safe names', () => {
    const files = [
      { path: 'data/a', size: 3, sha256: 'ab' },
      { path: 'data/b%c', size: 4, sha256: 'cd' },
    ];
    expect(manifestText(files)).to.equal('ab  data/a\ncd  data/b%25c\n');
    expect(payloadOxum(files)).to.equal('7.2');
    expect(safeBagName('../My Disc (1).img')).to.equal('My_Disc_1_.img');
    // the names under which bags are made: X.partial is bag X's unfinished one, which a run for X resumes
    expect([safeBagName('foo.partial'), safeBagName('bar.partial.lock')]).to.deep.equal(['foo_partial', 'bar_partial.lock']);
  });

  it('/checksums text is accepted by sha256sum -c, md5sum -c and sha1sum -c', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sums-'));
    try {
      const img = patternBuffer(100_000);
      fs.writeFileSync(path.join(dir, 'disc.img'), img);
      const d = new ImageDigests();
      d.update(img);
      const text = checksumsText('disc.img', { size: img.length, bytesHashed: img.length, bytesBad: 0, bytesMissing: 0, complete: true, waiting: false, digests: d.digest() });
      fs.writeFileSync(path.join(dir, 'checksums'), text);
      for (const tool of ['sha256sum', 'md5sum', 'sha1sum']) {
        expect(execFileSync(tool, ['-c', 'checksums'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString()).to.equal('disc.img: OK\n');
      }
      fs.writeFileSync(path.join(dir, 'disc.img'), Buffer.concat([img, Buffer.from([0])]));
      expect(() => execFileSync('sha256sum', ['-c', 'checksums'], { cwd: dir, stdio: 'ignore' })).to.throw();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/checksums names an image whose name has a line break or backslash as coreutils does (\\-escaped), so -c still checks it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sums-'));
    try {
      const img = patternBuffer(1000);
      const d = new ImageDigests();
      d.update(img);
      const state = { size: img.length, bytesHashed: img.length, bytesBad: 0, bytesMissing: 0, complete: true, waiting: false, digests: d.digest() };
      for (const name of ['Disc\nTwo.img', 'Disc\rTwo.img', 'Disc\\Two.img', 'Disc\\n\nTwo.img']) {
        fs.writeFileSync(path.join(dir, name), img);
        fs.writeFileSync(path.join(dir, 'checksums'), checksumsText(name, state));
        for (const tool of ['sha256sum', 'md5sum', 'sha1sum']) {
          const out = execFileSync(tool, ['-c', 'checksums'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
          expect(out, `${tool} ${JSON.stringify(name)}`).to.match(/: OK\n$/);
        }
        fs.rmSync(path.join(dir, name));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/checksums keeps a DAT verdict naming a game with a line break (&#10; in the DAT) on its comment line', () => {
    const d = new ImageDigests();
    d.update(Buffer.from('x'));
    const state = { size: 1, bytesHashed: 1, bytesBad: 0, bytesMissing: 0, complete: true, waiting: false, digests: d.digest() };
    const text = checksumsText('disc.img', state, { match: true, game: 'A\nB', rom: 'r\r', dat: 'D', text: 'matches "A\nB" (r\r) in D' });
    expect(text.split(/\r\n|\r|\n/).filter((l) => l !== '').every((l) => /^(#|(MD5|SHA1|SHA256) \()/.test(l)), text).to.equal(true);
    expect(text).to.include('# DAT: matches "A B" (r ) in D\n');
  });
});
