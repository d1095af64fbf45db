// Stored names and sizes come back exactly as they were stored: byte for byte, as blkar keeps them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { computeBlockCrc } from '../../../src/sbx/format/header';
import { sbx, vector as v } from '../../helpers/blkar-cli';

describe('blkfs sbx keeps stored names and sizes exactly', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-names-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Encodes a one-line file named `name` as a version 1 container in a fresh folder; returns the folder. */
  function encodeNamed(tag: string, name: string): string {
    const work = path.join(dir, tag);
    fs.mkdirSync(path.join(work, 'out'), { recursive: true });
    fs.writeFileSync(path.join(work, name), 'hello world');
    expect(sbx(['encode', '--pv', '0', '--sbx-version', '1', path.join(work, name), path.join(work, 'c.sbx')]).code).to.equal(0);
    return work;
  }
  const fnmBytes = (file: string, len: number) => fs.readFileSync(file).subarray(20, 20 + len);

  it('a name starting with a UTF-8 BOM keeps it: update --snm leaves FNM alone, decode writes the file under it', () => {
    const name = '\ufeffname.txt';
    const work = encodeNamed('bom', name);
    const c = path.join(work, 'c.sbx');
    const stored = Buffer.from(name);
    expect(fnmBytes(c, stored.length).equals(stored)).to.equal(true);
    expect(sbx(['update', '-y', '--pv', '0', '--snm', 'other', c]).code).to.equal(0);
    expect(fnmBytes(c, stored.length).equals(stored)).to.equal(true);
    expect(sbx(['decode', '--pv', '0', c, path.join(work, 'out')]).code).to.equal(0);
    expect(fs.readdirSync(path.join(work, 'out'))).to.deep.equal([name]);
  });

  it('a backslash is part of a stored name: a\\b.txt decodes as a\\b.txt; a stored ../ path still lands inside OUT', () => {
    const work = encodeNamed('backslash', 'a\\b.txt');
    const c = path.join(work, 'c.sbx');
    expect(sbx(['decode', '--pv', '0', c, path.join(work, 'out')]).code).to.equal(0);
    expect(fs.readdirSync(path.join(work, 'out'))).to.deep.equal(['a\\b.txt']);
    expect(sbx(['update', '-y', '--pv', '0', '--fnm', '../escape.txt', c]).code).to.equal(0);
    fs.mkdirSync(path.join(work, 'out2'));
    expect(sbx(['decode', '--pv', '0', c, path.join(work, 'out2')]).code).to.equal(0);
    expect(fs.readdirSync(path.join(work, 'out2'))).to.deep.equal(['escape.txt']);
    expect(fs.existsSync(path.join(work, 'escape.txt'))).to.equal(false);
  });

  it('show prints an FSZ of 2^64 - 1 with all its digits, for people and in JSON', () => {
    const c = path.join(dir, 'huge.sbx');
    const bytes = fs.readFileSync(v('v1-small.sbx'));
    const at = bytes.subarray(0, 512).indexOf('FSZ\x08', 0, 'latin1') + 4;
    bytes.fill(0xff, at, at + 8);
    bytes.writeUInt16BE(computeBlockCrc(bytes, 1), 4);
    fs.writeFileSync(c, bytes);
    expect(sbx(['show', c]).text).to.match(/^File size +: 18446744073709551615$/m);
    expect(sbx(['show', '--json', c]).text).to.contain(',"fileSize": 18446744073709551615\n');
  });
});
