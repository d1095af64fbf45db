import { expect } from 'chai';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import { cellOrigin, COLOURS, layoutMap, SEVERITY } from '../../../src/map';
import { parseMapfile } from '../../../src/cache/mapfile';
import { blkfs as blkfsAsync, cleanup, MAIN_JS, mount, patternImage, readStatus, tempDir } from '../mount/harness';

function blkfs(...args: string[]) {
  return spawnSync(process.execPath, [MAIN_JS, ...args], { encoding: 'utf8' });
}

describe('blkfs map', () => {
  let dir: string;
  before(() => (dir = tempDir('map')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('draws a mapfile written by GNU ddrescue as a PNG whose cells match its blocks', () => {
    // ddrescue writes the mapfile; blocks with other statuses are spliced in by ddrescuelog's grammar.
    const src = path.join(dir, 'src.img');
    fs.writeFileSync(src, Buffer.alloc(1024 * 1024, 7));
    const map = path.join(dir, 'real.map');
    execFileSync('ddrescue', ['-q', src, path.join(dir, 'out.img'), map]);
    const text = fs.readFileSync(map, 'latin1').replace(
      /^0x00000000\s+0x00100000\s+\+$/m,
      '0x00000000  0x00080000  +\n0x00080000  0x00000200  -\n0x00080200  0x0007FE00  ?',
    );
    fs.writeFileSync(map, text);
    const out = path.join(dir, 'real.png');
    const r = blkfs('map', map, '-o', out, '--cells', '16');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include('1 bad areas (512 B)');
    const png = PNG.sync.read(fs.readFileSync(out));
    const parsed = parseMapfile(text);
    const p = layoutMap(parsed.blocks, 1024 * 1024, { cells: 16, granule: 512, currentPos: parsed.currentPos, title: 'real.map' });
    const colourAt = (cell: number) => {
      const { x, y } = cellOrigin(p, cell);
      const i = ((y + 2) * png.width + x + 2) * 4;
      return [png.data[i], png.data[i + 1], png.data[i + 2]];
    };
    expect(colourAt(0)).to.deep.equal([...COLOURS[SEVERITY['+']]]);
    expect(colourAt(8)).to.deep.equal([...COLOURS[SEVERITY['-']]]);
    expect(colourAt(9)).to.deep.equal([...COLOURS[SEVERITY['?']]]);
  });

  it('writes SVG when the output ends in .svg', () => {
    const map = path.join(dir, 'g.map');
    fs.writeFileSync(map, '0x0 + 1\n0x0 0x400 +\n0x400 0x200 *\n');
    const out = path.join(dir, 'g.svg');
    expect(blkfs('map', map, '-o', out).status).to.equal(0);
    expect(fs.readFileSync(out, 'utf8')).to.include('data-status="*"');
  });

  it('draws a mapfile given through a pipe (bash <(…), a FIFO), as ddrescuelog output is', () => {
    const fifo = path.join(dir, 'piped.map');
    execFileSync('mkfifo', [fifo]);
    const out = path.join(dir, 'piped.svg');
    // The writer is a shell on the FIFO's other end (opening it blocks until blkfs opens it too).
    const r = spawnSync('sh', ['-c', `printf '0x0 + 1\\n0x0 0x400 +\\n0x400 0x200 -\\n' > '${fifo}' & '${process.execPath}' '${MAIN_JS}' map '${fifo}' -o '${out}'`], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(fs.readFileSync(out, 'utf8')).to.include('data-status="-"');
  });

  it("cells hold whole sectors of the size the mapfile's comments state (ddrescue -b2048, as ddrescueview reads it)", () => {
    const map = path.join(dir, 'cd.map');
    const body = '0x0 + 1\n0x0 0x2000 +\n0x2000 0x800 -\n';
    const cell = (text: string) => {
      fs.writeFileSync(map, text);
      const out = path.join(dir, 'cd.svg');
      expect(blkfs('map', map, '-o', out, '--cells', '4').status).to.equal(0);
      return /cell ([^<]+)</.exec(fs.readFileSync(out, 'utf8'))![1];
    };
    expect(cell(body)).to.equal('2.56 kB'); // 10240 bytes over 4 cells of whole 512-byte sectors
    expect(cell(`# Command line: ddrescue -b2048 /dev/sr0 cd.iso cd.map\n${body}`)).to.equal('4.10 kB');
    expect(cell(`# Command line: ddrescue --sector-size=2048 -d /dev/sr0 cd.iso cd.map\n${body}`)).to.equal('4.10 kB');
    expect(cell(`# Mapfile. Created by blkfs\n# Medium: 10240 bytes, sector size 2048\n${body}`)).to.equal('4.10 kB');
  });

  it('a picture that cannot be written whole (a full disk) is exit 2 and leaves the earlier picture as it was', function () {
    const full = path.join(dir, 'full');
    fs.mkdirSync(full);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]).status !== 0) this.skip(); // needs root, like FUSE
    try {
      const small = path.join(dir, 'small.map');
      fs.writeFileSync(small, '0x0 + 1\n0x0 0x400 +\n0x400 0x200 -\n');
      const out = path.join(full, 'm.png');
      expect(blkfs('map', small, '-o', out).status).to.equal(0);
      const before = fs.readFileSync(out);
      fs.writeFileSync(path.join(full, 'filler'), Buffer.alloc(64 * 1024 - before.length - 4096)); // a few KiB left
      const many = path.join(dir, 'many.map');
      const lines = ['0x0 + 1'];
      for (let i = 0; i < 4000; i++) lines.push(`0x${(i * 1024).toString(16)} 0x400 ${'+-?*/'[i % 5]}`);
      fs.writeFileSync(many, lines.join('\n') + '\n');
      const r = blkfs('map', many, '-o', out, '--width', '2000');
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr).to.contain('ENOSPC');
      expect(fs.readFileSync(out).equals(before)).to.equal(true);
      expect(fs.readdirSync(full).sort()).to.deep.equal(['filler', 'm.png']);
    } finally {
      spawnSync('umount', [full]);
    }
  });

  /** `blkfs map` of a mapfile holding `text`: must exit 1 and write no picture; returns its stderr. */
  function refusedMap(name: string, text: string): string {
    const map = path.join(dir, `${name}.map`);
    fs.writeFileSync(map, text);
    const out = path.join(dir, `${name}.png`);
    const r = blkfs('map', map, '-o', out);
    expect(r.status).to.equal(1);
    expect(fs.existsSync(out)).to.equal(false);
    return r.stderr;
  }

  it('names the line of a malformed mapfile and exits 1 without writing a picture', () => {
    expect(refusedMap('bad', '# x\n0x0 ? 1\n0x0 0x400 +\n0x800 0x200 -\n')).to.include('line 4').and.include('not contiguous');
  });

  it('a mapfile with no data blocks is exit 1 without a picture (nothing to draw)', () => {
    expect(refusedMap('empty', '# Mapfile\n0x00000000 ? 1\n')).to.include('describes no bytes');
  });

  it('refuses a picture inside a blkfs cache directory with exit 1, as every output of blkfs', () => {
    const map = path.join(dir, 'ok.map');
    fs.writeFileSync(map, '0x0 + 1\n0x0 0x400 +\n');
    const cache = path.join(dir, 'cache');
    fs.mkdirSync(cache);
    fs.writeFileSync(path.join(cache, 'state.sqlite'), '');
    const r = blkfs('map', map, '-o', path.join(cache, 'map.png'));
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/it lies inside the blkfs cache directory/);
    expect(fs.existsSync(path.join(cache, 'map.png'))).to.equal(false);
  });

  it('a mount\'s /raw given as the mapfile is exit 1 at once: the medium is not read to find out', async function () {
    this.timeout(60_000);
    const image = path.join(dir, 'medium.img');
    fs.writeFileSync(image, patternImage(8 << 20));
    const mnt = path.join(dir, 'mnt');
    try {
      await mount(image, mnt, ['--cache', path.join(dir, 'raw-cache'), '--readahead', '0']);
      const before = (await readStatus(mnt)).bytesCached;
      const r = await blkfsAsync(['map', path.join(mnt, 'raw'), '-o', path.join(dir, 'raw.png')]);
      expect(r.code, r.stderr).to.equal(1);
      expect((await readStatus(mnt)).bytesCached, 'bytes read from the medium').to.equal(before);
      expect(r.stderr).to.match(/raw: .*not a (ddrescue )?mapfile/);
    } finally {
      await cleanup();
    }
  });

  it('refuses an unknown picture type and a missing mapfile with exit 1', () => {
    expect(blkfs('map', path.join(dir, 'g.map'), '-o', path.join(dir, 'x.gif')).status).to.equal(1);
    expect(blkfs('map', path.join(dir, 'nope.map'), '-o', path.join(dir, 'x.png')).status).to.equal(1);
  });
});
