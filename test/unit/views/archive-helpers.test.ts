import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { decodeContainer } from '../../../src/sbx/decode';
import { encodeBuffer, tempDir } from '../sbx/workflow-helpers';
import { Layout } from '../../../src/sbx/format/layout';
import { guessBurstFromPositions } from '../../../src/sbx/format/burst-guess';
import { safeFileName } from '../../../src/views/rescued/safe-file-name';
import { defaultImageName } from '../../../src/views/sbx/image-identity';
import { parseImageParams, SbxImageParamsError } from '../../../src/views/sbx/image-params';

describe('archive view helpers', () => {
  describe('parseImageParams (mount options of /sbx/image.sbx)', () => {
    const cases: [object, object][] = [
      [{}, { version: 17, dataShards: 10, parityShards: 2, burst: 12, hash: 'sha256' }],
      [{ sbxVersion: '1' }, { version: 1, dataShards: 0, parityShards: 0, burst: 0, hash: 'sha256' }],
      [{ sbxVersion: '19', rsData: '3', rsParity: '1', burst: '0', hash: 'BLAKE2b-256' }, { version: 19, dataShards: 3, parityShards: 1, burst: 0, hash: 'blake2b-256' }],
      [{ rsParity: 4 }, { version: 17, dataShards: 10, parityShards: 4, burst: 12, hash: 'sha256' }],
      [{ hash: 'sha2-512-512' }, { version: 17, dataShards: 10, parityShards: 2, burst: 12, hash: 'sha512' }],
      [{ sbxVersion: '18', hash: 'blake2b-256' }, { version: 18, dataShards: 10, parityShards: 2, burst: 12, hash: 'blake2b-256' }],
      [{ sbxVersion: '2', hash: 'sha1' }, { version: 2, dataShards: 0, parityShards: 0, burst: 0, hash: 'sha1' }],
    ];
    for (const [opts, want] of cases) {
      it(`${JSON.stringify(opts)} → ${JSON.stringify(want)}`, () => expect(parseImageParams(opts)).to.deep.equal(want));
    }
    const bad: [object, RegExp][] = [
      [{ sbxVersion: '4' }, /one of 1, 2, 3, 17, 18, 19/],
      [{ sbxVersion: 'x' }, /--sbx-version must be an integer/],
      [{ rsData: '0' }, /--rs-data must be an integer from 1/],
      [{ rsData: '200', rsParity: '100' }, /must not exceed 256/],
      [{ burst: '1001' }, /--burst must be an integer from 0 to 1000/],
      [{ sbxVersion: '2', burst: '3' }, /versions 17, 18 and 19 only/],
      [{ hash: 'md5' }, /unknown or unsupported hash type/],
      [{ hash: 'sha2-512-256' }, /unknown or unsupported hash type/],
      // A 128-byte block cannot hold a 64-byte digest with the other records: refused before anything is mounted.
      [{ sbxVersion: '2', hash: 'sha512' }, /--hash sha512 does not fit the metadata block of a version 2 container .*--sbx-version 1/],
      [{ sbxVersion: '18', hash: 'blake2b-512' }, /--hash blake2b-512 does not fit the metadata block of a version 18 container/],
    ];
    for (const [opts, msg] of bad) {
      it(`rejects ${JSON.stringify(opts)}`, () => expect(() => parseImageParams(opts)).to.throw(SbxImageParamsError, msg));
    }
  });

  describe('safeFileName (FNM from the medium → one directory entry)', () => {
    const cases: [string | undefined, string | undefined][] = [
      ['report.pdf', 'report.pdf'],
      ['../../etc/passwd', 'passwd'],
      // Only '/' separates, as in blkar (Rust's Path::file_name on Unix) and `blkfs sbx decode`: a Linux name may hold '\\'.
      ['C:\\Users\\me\\photo.jpg', 'C:\\Users\\me\\photo.jpg'],
      ['a\\b.txt', 'a\\b.txt'],
      ['dir/', 'dir'],
      ['notes.txt/.', 'notes.txt'],
      ['a/..', undefined],
      ['/', undefined],
      ['..', undefined],
      ['.', undefined],
      ['', undefined],
      [undefined, undefined],
      ['a\u0000b\nc', 'a_b_c'],
      ['info.json', undefined],
      ['x'.repeat(256), undefined],
      ['été.txt', 'été.txt'],
    ];
    for (const [fnm, want] of cases) {
      it(`${JSON.stringify(fnm)} → ${JSON.stringify(want)}`, () => expect(safeFileName(fnm, ['info.json'])).to.equal(want));
    }

    it('is the name `blkfs sbx decode` gives the same container (a\\b.txt, C:\\x\\y.jpg, dir/, notes.txt/.)', async () => {
      const dir = tempDir('fnm');
      try {
        for (const [i, fnm] of ['a\\b.txt', 'C:\\x\\y.jpg', 'dir/', 'notes.txt/.'].entries()) {
          const { container } = await encodeBuffer(dir, `c${i}`, Buffer.from('payload'), { version: 1, fnm });
          const out = path.join(dir, `out${i}`);
          fs.mkdirSync(out);
          await decodeContainer({ input: container, output: out });
          expect(fs.readdirSync(out)).to.deep.equal([safeFileName(fnm)]);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('defaultImageName (FNM of /sbx/image.sbx, from SOURCE)', () => {
    const cases: [string, string][] = [
      ['/dev/sr0', 'sr0.img'],
      ['/srv/disks/floppy-3.img', 'floppy-3.img'],
      ['disk', 'disk.img'],
      ['nbd://host:10809/cdrom', 'cdrom.img'],
      ['nbd+unix:///?socket=/tmp/x.sock', 'medium.img'],
    ];
    for (const [source, want] of cases) it(`${source} → ${want}`, () => expect(defaultImageName(source)).to.equal(want));
  });

  describe('guessBurstFromPositions', () => {
    for (const [d, p, b] of [[10, 2, 12], [3, 2, 4], [4, 2, 0], [1, 1, 7], [10, 2, 1]]) {
      it(`finds B = ${b} for D=${d} P=${p} from medium positions, with gaps`, () => {
        const layout = new Layout({ version: 17, d, p, burst: b });
        const base = 1_048_576 + 384;
        const blocks = [];
        for (let seq = 0; seq <= 3 * (d + p) * Math.max(b, 1); seq++) {
          if (seq % 7 === 3) continue; // lost blocks
          blocks.push({ seq, offset: base + layout.seqToIndex(seq) * 512 });
        }
        expect(guessBurstFromPositions(17, d, p, blocks)).to.equal(b);
      });
    }
    for (const [d, p, b] of [[10, 2, 12], [1, 1, 7], [4, 3, 0]]) {
      it(`finds B = ${b} for D=${d} P=${p} from the metadata copies alone (an empty file's container)`, () => {
        const layout = new Layout({ version: 17, d, p, burst: b });
        const blocks = layout.metadataIndices().map((i) => ({ seq: 0, offset: 4096 + i * 512 }));
        expect(guessBurstFromPositions(17, d, p, blocks)).to.equal(b);
      });
    }
  });
});
