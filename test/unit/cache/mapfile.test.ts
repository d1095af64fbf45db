import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SectorMap } from '../../../src/cache/extent-map';
import { MapfileError, parseMapfile, readMapfileText, renderMapfile } from '../../../src/cache/mapfile';

const ST = '0x00000000     ?               1\n';

// [name, mapfile text, expected: blocks as "pos+size+status" list | error "line: reason"]
const PARSE_CASES: [string, string, string[] | string][] = [
  ['canonical ddrescue output', '# Mapfile\n# current_pos  current_status  current_pass\n0x00000000     +               1\n#      pos        size  status\n0x00000000  0x00200000  +\n', ['0+2097152+']],
  ['lowercase hex, 0X prefix, unpadded', '0x0 + 1\n0X0 0x1fF +\n', ['0+511+']],
  ['decimal and octal numbers', ST + '0 2097152 +\n2097152 010000 -\n', ['0+2097152+', '2097152+4096-']],
  ['leading-zero "decimal" is octal', ST + '0 2097152 +\n02097152 010000 -\n', '3: Bad block line in list.'],
  ['blocks out of order', ST + '0x200 0x200 +\n0x0 0x200 +\n', '3: Blocks are not contiguous.'],
  ['overlap', ST + '0x0 0x400 +\n0x200 0x200 +\n', '3: Blocks are not contiguous.'],
  ['gap between blocks', ST + '0x0 0x200 +\n0x400 0x200 -\n', '3: Blocks are not contiguous.'],
  ['first block starts at 1 MiB', ST + '0x100000 0x200 +\n', ['1048576+512+']],
  ['no status line', '0x0 0x200 +\n0x200 0x200 -\n', '1: Bad or missing status line.'],
  ['status line without pass', '0x00200000  ?\n0x0 0x200 +\n', ['0+512+']],
  ['status line with a non-numeric pass', '0x0 ? x\n0x0 0x200 +\n', ['0+512+']],
  ['empty file', '', []],
  ['comments only', '# a\n   # b\n\n', []],
  ['status line only', ST, []],
  ['block status # starts a comment', ST + '0x0 0x200 #\n', '2: Bad block line in list.'],
  ['current_status F', '0x0 F 1\n0x0 0x200 +\n', ['0+512+']],
  ['block status F', ST + '0x0 0x200 F\n', '2: Bad block line in list.'],
  ['current_status X', '0x0 X 1\n', '1: Bad or missing status line.'],
  ['current_pass 0', '0x0 ? 0\n', '1: Bad or missing status line.'],
  ['zero-size block at pos 0', ST + '0 0 +\n', []],
  ['zero-size block at 0 then a block elsewhere', ST + '0 0 +\n0x300 0x100 -\n', '3: Blocks are not contiguous.'],
  ['zero-size block elsewhere', ST + '0x100 0 +\n', '2: Bad block line in list.'],
  ['negative position', ST + '-0x200 0x200 +\n', '2: Bad block line in list.'],
  ['negative size', ST + '0 0x200 +\n0x200 -0x100 +\n', '3: Bad block line in list.'],
  ['trailing words, tabs, comment after status', '0x0\t?\t1 words # c\n0x0\t0x200\t+ more words\n', ['0+512+']],
  ['CRLF line endings', '0x0 ? 1\r\n0x0 0x200 +\r\n0x200 0x200 -\r\n', ['0+512+', '512+512-']],
  ['# glued to the status is not a comment', ST + '0x0 0x200 +#x\n', ['0+512+']],
  ['# glued to a number is not a comment', ST + '0x0 0x200#x\n', '2: Bad block line in list.'],
  ['# glued in the status line', '0#c ? 1\n', '1: Bad or missing status line.'],
  ['adjacent blocks with the same status', ST + '0x0 0x200 +\n0x200 0x200 +\n', ['0+512+', '512+512+']],
  ['blkcache-style file', '## blkcache: block_size=2048\n# current_pos   current_status  current_pass\n0x201000    -  1\n#  pos  size  status\n0x00000000  0x00200000  +\n0x00200000  0x00001000  -\n', ['0+2097152+', '2097152+4096-']],
  ['blank lines count for line numbers', '\n\n0 ? 1\n\n# x\n0 0x200 +\n  #y\n0x201 1 +\n', '8: Blocks are not contiguous.'],
  ['last line without newline', ST + '0 0x200 +\n0x201 1 +', '3: Blocks are not contiguous.'],
  ['block line missing its status', ST + '0x0 0x200\n+\n', '2: Bad block line in list.'],
  ['status line missing its phase', '0x0\n', '1: Bad or missing status line.'],
  ['0x without digits reads as 0', '0x ? 1\n0x 0x200 +\n', ['0+512+']],
  ['127-character limit: status at column 127 is kept', ST + '0x0 0x200' + ' '.repeat(117) + '+\n', ['0+512+']],
  ['127-character limit: status at column 128 is dropped', ST + '0x0 0x200' + ' '.repeat(118) + '+\n', '2: Bad block line in list.'],
  ['127-character limit counts after leading whitespace', ST + '   0x0 0x200' + ' '.repeat(117) + '+\n', ['0+512+']],
  ['127-character limit: a bad pass past column 127 is never seen', '0x0 ?' + ' '.repeat(122) + '0\n', []],
  ['127-character limit: a bad pass at column 127 is seen', '0x0 ?' + ' '.repeat(121) + '0\n', '1: Bad or missing status line.'],
  // ddrescuelog -c writes the area after the last listed block up to 2^63 - 1 (an input of unknown size); ddrescue reads
  // numbers up to 2^63 - 1, larger ones saturate. Past 2^53 (8 PiB, beyond any medium) blocks are cut at 2^53 - 1.
  ['ddrescuelog -c: the last area reaches 2^63 - 1', ST + '0 0x200 -\n0x200 0x400 +\n0x600 0x7FFFFFFFFFFFF9FF -\n', ['0+512-', '512+1024+', `1536+${2 ** 53 - 1 - 1536}-`]],
  ['a size past 2^63 - 1 saturates', ST + '0 0x600 +\n0x600 0x8000000000000000 -\n', ['0+1536+', `1536+${2 ** 53 - 1 - 1536}-`]],
  ['blocks past 2^53 are dropped, and stay contiguous', ST + '0 0x600 +\n0x600 0x20000000000000 -\n0x20000000000600 0x100 ?\n', ['0+1536+', `1536+${2 ** 53 - 1 - 1536}-`]],
  ['a gap past 2^53 is still a gap', ST + '0 0x600 +\n0x600 0x20000000000000 -\n0x20000000000700 0x100 ?\n', '4: Blocks are not contiguous.'],
  ['a current_pos past 2^53', '0x7FFFFFFFFFFFFFFF + 1\n0 0x600 +\n', ['0+1536+']],
];

function outcome(text: string): string[] | string {
  try {
    return parseMapfile(text).blocks.map((b) => `${b.pos}+${b.size}${b.status}`);
  } catch (e) {
    if (e instanceof MapfileError) return `${e.line}: ${e.reason}`;
    throw e;
  }
}

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('cache/mapfile parseMapfile (ddrescue 1.27 grammar)', () => {
  it('reads the usual hex lines (fast path) exactly as the other forms: decimal, octal, trailing text, uppercase 0X', () => {
    const hexed = parseMapfile('0x0 ? 1\n0x00000000  0x00000200  +\n0X00000200  0x400  -  trailing\n0x600 0xA00 ?\n');
    const other = parseMapfile('0 ? 1\n0 512 +\n512 02000 -\n1536 2560 ?\n');
    expect(hexed.blocks).to.deep.equal(other.blocks);
    expect(() => parseMapfile('0x0 ? 1\n0x0 0x200 +\n0x400 0x200 -\n')).to.throw(MapfileError, /line 3: Blocks are not contiguous/);
    expect(() => parseMapfile('0x0 ? 1\n0x200 0x0 +\n')).to.throw(MapfileError, /line 2: Bad block line/);
  });

  for (const [name, text, expected] of PARSE_CASES) {
    it(name, () => {
      expect(outcome(text)).to.deep.equal(expected);
    });
  }

  it('reads the status line fields', () => {
    const p = parseMapfile('0x00700600     *               3\n0 0x200 +\n');
    expect([p.currentPos, p.phase, p.pass]).to.deep.equal([0x700600, '*', 3]);
  });

  it('a mapfile past the size limit is refused at the line where it passes it (a 600 MB one was "Cannot create a string longer than…", exit 2)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-bigmap-'));
    try {
      const file = path.join(dir, 'big.map');
      // The status and block lines (14 bytes), then 10-byte comment lines: byte 50,000 is on line 2 + 4,998 + 1.
      fs.writeFileSync(file, '0 +\n0 0x200 +\n' + '# padding\n'.repeat(7000));
      const err = (await readMapfileText(file, 'latin1', 50_000).catch((e: unknown) => e)) as Error;
      expect(err).to.be.instanceOf(MapfileError);
      expect(err.message).to.equal('Error in mapfile, line 5001: not a mapfile: larger than 50000 bytes');
      expect(parseMapfile(await readMapfileText(file)).blocks).to.have.length(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('error messages carry ddrescue wording and the line', () => {
    expect(() => parseMapfile('0 ?\n0 0x200 +\n0x300 0x100 -\n')).to.throw(
      MapfileError,
      'Error in mapfile, line 3: Blocks are not contiguous.',
    );
  });

  // An editor that saves "UTF-8 with BOM" puts EF BB BF before the first comment, which then is no comment: ddrescue
  // says line 1 has a bad status line, and a user looking at "# Mapfile. Created by GNU ddrescue" cannot see why.
  it('a mapfile that starts with a UTF-8 byte-order mark is refused at line 1 saying so', () => {
    const text = '\xEF\xBB\xBF# Mapfile. Created by GNU ddrescue version 1.27\n0x0 + 1\n0x0 0x200 +\n';
    expect(() => parseMapfile(text)).to.throw(MapfileError, /^Error in mapfile, line 1: Bad or missing status line\. .*byte-order mark/);
    expect(() => parseMapfile('0x0 + 1\n0x0 0x200 +\n\xEF\xBB\xBF\n')).to.throw(MapfileError, /^Error in mapfile, line 3: Bad block line in list\.$/);
  });

  it("with the input's size, a '+' past its end is refused at its line, as ddrescue refuses it; other statuses past it are not", () => {
    const map = '0 ?\n0 0x200 ?\n0x200 0x400 +\n0x600 0x200 -\n';
    expect(() => parseMapfile(map, 0x400)).to.throw(MapfileError, 'Error in mapfile, line 3: Rescued data in mapfile goes past end of input file.');
    expect(parseMapfile(map, 0x600).blocks).to.have.length(3);
    expect(parseMapfile(map).blocks).to.have.length(3); // without a size, as ddrescuelog reads it
  });

  it('agrees with the real ddrescuelog -t on every case (exit status and message)', function () {
    if (!hasTool('ddrescuelog')) this.skip();
    const dir = fs.mkdtempSync(os.tmpdir() + '/blkfs-mapfile-');
    try {
      for (const [name, text, expected] of PARSE_CASES) {
        const file = path.join(dir, 'm.map');
        fs.writeFileSync(file, text);
        const r = spawnSync('ddrescuelog', ['-t', file], { encoding: 'utf8' });
        if (typeof expected === 'string') {
          expect(r.status, name).to.equal(2);
          expect(r.stderr, name).to.contain(`Error in mapfile, line ${expected}`);
        } else {
          expect(r.status, `${name}: ${r.stderr}`).to.equal(0);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cache/mapfile renderMapfile', () => {
  it('writes ddrescue 1.27 layout: uppercase hex, fixed spacing, compacted blocks', () => {
    const m = new SectorMap(20480); // 10 MiB of 512-byte sectors
    m.set(0, 4096, '+');
    m.set(4096, 8, '-');
    m.set(4104, 10233, '+');
    m.set(14337, 2, '-');
    m.set(14339, 6141, '+');
    const text = renderMapfile(m.extents(), 512, 10485760, { currentPos: 0x200c00, phase: '+', pass: 1 });
    expect(text).to.equal(
      [
        '# Mapfile. Created by blkfs',
        '# Finished',
        '# current_pos  current_status  current_pass',
        '0x00200C00     +               1',
        '#      pos        size  status',
        '0x00000000  0x00200000  +',
        '0x00200000  0x00001000  -',
        '0x00201000  0x004FF200  +',
        '0x00700200  0x00000400  -',
        '0x00700600  0x002FFA00  +',
        '',
      ].join('\n'),
    );
  });

  it('clips the last partial sector to the medium size and widens hex past 8 digits', () => {
    const text = renderMapfile([{ start: 0, count: 8589934594, status: '?' }], 512, 0x100000000 * 1024 + 100, {
      currentPos: 0,
      phase: '?',
      pass: 1,
      comments: ['Command line: blkfs mount /dev/sr0 /mnt'],
    });
    expect(text).to.contain('# Command line: blkfs mount /dev/sr0 /mnt\n');
    expect(text).to.contain('\n0x00000000  0x40000000064  ?\n');
  });

  it('compacts adjacent extents of equal status', () => {
    const text = renderMapfile(
      [
        { start: 0, count: 1, status: '+' },
        { start: 1, count: 1, status: '+' },
      ],
      512,
      1024,
      { currentPos: 0, phase: '+', pass: 1 },
    );
    expect(text.trim().split('\n').pop()).to.equal('0x00000000  0x00000400  +');
  });

  it('round-trips through parseMapfile', () => {
    const m = new SectorMap(1000);
    m.set(3, 10, '+');
    m.set(20, 5, '*');
    m.set(30, 5, '/');
    m.set(40, 1, '-');
    const p = parseMapfile(renderMapfile(m.extents(), 2048, 2048 * 1000, { currentPos: 4096, phase: '*', pass: 1 }));
    expect(p.phase).to.equal('*');
    expect(p.currentPos).to.equal(4096);
    expect(p.blocks.map((b) => [b.pos / 2048, b.size / 2048, b.status])).to.deep.equal(
      m.extents().map((e) => [e.start, e.count, e.status]),
    );
  });

  describe('accepted by the real GNU ddrescue tools', () => {
    let dir = '';
    before(function () {
      if (!hasTool('ddrescuelog') || !hasTool('ddrescue')) this.skip();
      dir = fs.mkdtempSync(os.tmpdir() + '/blkfs-mapfile-');
    });
    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it('ddrescuelog -t reads the status and every area', () => {
      const m = new SectorMap(2048);
      m.set(0, 100, '+');
      m.set(100, 3, '-');
      m.set(103, 50, '*');
      m.set(153, 7, '/');
      const file = path.join(dir, 'live.map');
      fs.writeFileSync(file, renderMapfile(m.extents(), 512, 2048 * 512, { currentPos: 153 * 512, phase: '?', pass: 1 }));
      const r = spawnSync('ddrescuelog', ['-t', file], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/current status: copying/);
      expect(r.stdout).to.match(/non-tried:\s+966656 B,\s+in\s+1 area/);
      expect(r.stdout).to.match(/rescued:\s+51200 B,\s+in\s+1 area/);
      expect(r.stdout).to.match(/non-trimmed:\s+25600 B/);
      expect(r.stdout).to.match(/non-scraped:\s+3584 B/);
      expect(r.stdout).to.match(/bad-sector:\s+1536 B,\s+in\s+1 area/);
    });

    it('ddrescue -m copies exactly the + domain of a rendered map', () => {
      const size = 1 << 20;
      const img = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) img.writeUInt32BE(i, i);
      const inFile = path.join(dir, 'in.img');
      fs.writeFileSync(inFile, img);
      const m = new SectorMap(size / 512);
      m.set(0, 64, '+');
      m.set(64, 1, '-');
      m.set(500, 300, '+');
      const domain = path.join(dir, 'domain.map');
      fs.writeFileSync(domain, renderMapfile(m.extents(), 512, size, { currentPos: 0, phase: '?', pass: 1 }));
      const outImg = path.join(dir, 'out.img');
      const outMap = path.join(dir, 'out.map');
      const r = spawnSync('ddrescue', ['-f', '-m', domain, inFile, outImg, outMap], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const rescued = parseMapfile(fs.readFileSync(outMap, 'utf8')).blocks.filter((b) => b.status === '+');
      expect(rescued.map((b) => [b.pos, b.size])).to.deep.equal([
        [0, 64 * 512],
        [500 * 512, 300 * 512],
      ]);
      const out = fs.readFileSync(outImg);
      expect(out.subarray(500 * 512, 800 * 512).equals(img.subarray(500 * 512, 800 * 512))).to.equal(true);
    });
  });
});
