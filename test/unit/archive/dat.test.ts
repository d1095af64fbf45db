import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { datVerdict, DatError, loadDat, parseDat } from '../../../src/archive/dat';

const digests = { crc32: '0a1b2c3d', md5: '0'.repeat(32), sha1: 'a'.repeat(40), sha256: 'b'.repeat(64) };

const DAT = `<?xml version="1.0"?>
<!DOCTYPE datafile PUBLIC "-//Logiqx//DTD ROM Management Datafile//EN" "http://www.logiqx.com/Dats/datafile.dtd">
<datafile>
  <header><name>Test - Discs</name><description>generated</description></header>
  <game name="Other Disc (Europe)"><rom name="Other Disc (Europe).iso" size="1000" crc="0a1b2c3d" sha1="${'a'.repeat(40)}"/></game>
  <game name="Wrong CRC"><rom name="w.iso" size="4096" crc="ffffffff" sha1="${'a'.repeat(40)}"/></game>
  <game name="The Disc (USA) &amp; more">
    <description>x</description>
    <rom name="The Disc (USA).cue" size="90" crc="12345678" sha1="${'c'.repeat(40)}"/>
    <rom name="The Disc (USA).iso" size="4096" crc="0A1B2C3D" md5="${'0'.repeat(32)}" sha1="${'A'.repeat(40)}"/>
  </game>
</datafile>`;

describe('archive/dat Logiqx DAT', () => {
  it('names the entry with the same size, CRC-32 and SHA-1', () => {
    const v = datVerdict(parseDat(DAT, 't.dat'), 4096, digests);
    expect(v.match).to.equal(true);
    expect(v).to.include({ game: 'The Disc (USA) & more', rom: 'The Disc (USA).iso', dat: 'Test - Discs' });
  });

  it('says no match when any of them differs', () => {
    const v = datVerdict(parseDat(DAT, 't.dat'), 4096, { ...digests, sha1: 'd'.repeat(40) });
    expect(v.match).to.equal(false);
    expect(v.text).to.equal('no match among the 4 entries of Test - Discs');
    expect(datVerdict(parseDat(DAT), 4097, digests).match).to.equal(false);
  });

  it('rejects a file that is not a DAT, naming it', () => {
    expect(() => parseDat('<html><body/></html>', 'x.dat')).to.throw(DatError, /x.dat: not a Logiqx XML DAT/);
    expect(() => parseDat('<datafile><game name="a"><rom', 'y.dat')).to.throw(DatError, /y.dat/);
  });

  it('a disc image or a device given as the DAT is refused from its first bytes, a huge file at the limit: never read whole', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dat-'));
    try {
      const iso = path.join(dir, 'disc.iso');
      fs.writeFileSync(iso, Buffer.concat([Buffer.from('CD001 some text'), Buffer.alloc(4096)]));
      expect(() => loadDat(iso)).to.throw(DatError, /disc\.iso: not a Logiqx XML DAT: binary data \(a NUL byte at byte 15\)/);
      expect(() => loadDat('/dev/zero')).to.throw(DatError, /\/dev\/zero: not a Logiqx XML DAT: binary data/); // it never ends
      const big = path.join(dir, 'big.dat');
      fs.writeFileSync(big, DAT + ' '.repeat(2000));
      expect(() => loadDat(big, 1024)).to.throw(DatError, /big\.dat: not a Logiqx XML DAT: larger than 1024 bytes/);
      expect(loadDat(big).roms).to.have.length(4);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says where a malformed DAT goes wrong, and an empty one is line 1 (no "undefined")', () => {
    expect(() => parseDat('', 'e.dat')).to.throw(DatError, /^e\.dat: not a Logiqx XML DAT: line 1: Start tag expected\.$/);
    expect(() => parseDat('<datafile>\n<game></datafile>', 'f.dat')).to.throw(DatError, /^f\.dat: not a Logiqx XML DAT: line 2, column \d+: /);
  });

  it('XML the validator lets through but the parser cannot read is placed by line and column, in words (fuzz-parsers seed 101)', () => {
    // A stray quote in the declaration, then '<?' inside an attribute value: fast-xml-parser's validator lets it by,
    // and its parser threw "readTagExp returned undefined at position 79".
    const text = '<?xml ver.0"?><datafile>\n<game name="g"><rom name="r" sha1="a<?xml?>><datafile><headeraaaa"/></game></datafile>';
    expect(() => parseDat(text, 'x.dat')).to.throw(DatError, /^x\.dat: not a Logiqx XML DAT: line 2, column \d+: a tag the XML parser cannot read$/);
  });

  it('a rom whose size is empty or not decimal is not an entry (never matched as size 0 or hex)', () => {
    const roms = (size: string) => parseDat(`<datafile><game name="g"><rom name="r" size="${size}" crc="00000000"/></game></datafile>`).roms;
    expect(roms('')).to.deep.equal([]);
    expect(roms('0x10')).to.deep.equal([]);
    expect(roms('1e3')).to.deep.equal([]);
    expect(roms(' 16 ').map((r) => r.size)).to.deep.equal([16]);
  });

  it('names made only of digits, and digests made only of digits with leading zeros, stay exact strings', () => {
    const sha1 = '0' + '1234567890'.repeat(3) + '123456789';
    const md5 = '00' + '1234567890'.repeat(3);
    const dat = parseDat(
      `<datafile><header><name>007</name></header><game name="1942"><rom name="0001" size="4096" crc="00123456" md5="${md5}" sha1="${sha1}"/></game></datafile>`,
      'digits.dat',
    );
    expect(dat.name).to.equal('007');
    expect(dat.roms).to.deep.equal([{ game: '1942', rom: '0001', size: 4096, crc: '00123456', md5, sha1 }]);
    const v = datVerdict(dat, 4096, { crc32: '00123456', md5, sha1, sha256: 'b'.repeat(64) });
    expect(v).to.include({ match: true, game: '1942', rom: '0001', dat: '007' });
  });

  it('XML character references in names are decoded (&#233; is é, &#x41; is A), an escaped one stays literal', () => {
    const dat = parseDat(
      `<datafile><header><name>Caf&#xE9; &amp; Co</name></header><game name="Pok&#233;mon &#x41; (&amp;#233;)"><rom name="r&#39;s.iso" size="4" crc="00000000" sha1="${'a'.repeat(40)}"/></game></datafile>`,
      'refs.dat',
    );
    expect(dat.name).to.equal('Café & Co');
    expect(dat.roms.map((r) => [r.game, r.rom])).to.deep.equal([['Pokémon A (&#233;)', "r's.iso"]]);
  });
});
