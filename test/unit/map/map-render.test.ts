import { expect } from 'chai';
import { PNG } from 'pngjs';
import type { SectorStatus } from '../../../src/cache/extent-map';
import { ByteExtent, buildGrid, cellOrigin, COLOURS, layoutMap, renderMapPng, renderMapSvg, SEVERITY } from '../../../src/map';
import { glyphRows } from '../../../src/map/font';

const MiB = 1024 * 1024;

/** A medium of `size` bytes: '+' everywhere except the given blocks. */
function mapOf(size: number, holes: { pos: number; size: number; status: SectorStatus }[]): ByteExtent[] {
  const out: ByteExtent[] = [];
  let pos = 0;
  for (const h of [...holes].sort((a, b) => a.pos - b.pos)) {
    if (h.pos > pos) out.push({ pos, size: h.pos - pos, status: '+' });
    out.push(h);
    pos = h.pos + h.size;
  }
  if (pos < size) out.push({ pos, size: size - pos, status: '+' });
  return out;
}

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i], png.data[i + 1], png.data[i + 2]];
}

describe('map picture', () => {
  const size = 64 * MiB;
  const holes = [
    { pos: 1 * MiB + 512, size: 512, status: '-' as const }, // one bad sector inside an otherwise good cell
    { pos: 10 * MiB, size: 3 * MiB, status: '?' as const },
    { pos: 20 * MiB, size: 1 * MiB, status: '*' as const },
    { pos: 30 * MiB, size: 64 * 1024, status: '/' as const },
  ];
  const extents = mapOf(size, holes);

  it('paints each cell with the worst status among its bytes', () => {
    const g = buildGrid(extents, size, 64, { granule: 512 });
    expect(g.cellBytes).to.equal(MiB);
    expect(g.cells.length).to.equal(64);
    expect(g.cells[0]).to.equal(SEVERITY['+']);
    expect(g.cells[1]).to.equal(SEVERITY['-']); // 512 bad bytes in 1 MiB
    expect([...g.cells.subarray(10, 13)]).to.deep.equal([2, 2, 2].map(() => SEVERITY['?']));
    expect(g.cells[13]).to.equal(SEVERITY['+']);
    expect(g.cells[20]).to.equal(SEVERITY['*']);
    expect(g.cells[30]).to.equal(SEVERITY['/']);
    expect(g.summary.bytes['-']).to.equal(512);
    expect(g.summary.badAreas).to.equal(1);
  });

  it('counts adjacent bad blocks as one bad area and finds the largest', () => {
    const ext = mapOf(size, [
      { pos: 0, size: 512, status: '-' },
      { pos: 512, size: 1024, status: '-' },
      { pos: 4096, size: 512, status: '-' },
    ]);
    const g = buildGrid(ext, size, 16);
    expect(g.summary.badAreas).to.equal(2);
    expect(g.summary.largestBadArea).to.equal(1536);
  });

  it('keeps cells whole sectors, so no sector straddles two cells', () => {
    const g = buildGrid(extents, 1_000_000_000, 4096, { granule: 2048 });
    expect(g.cellBytes % 2048).to.equal(0);
    expect(g.cells.length).to.be.at.most(4096);
  });

  it('decodes as a PNG whose cells have the status colours where the map says, and marks the read position', () => {
    const pos = 40 * MiB + 5;
    const png = PNG.sync.read(renderMapPng(extents, size, { cells: 64, granule: 512, currentPos: pos }));
    const p = layoutMap(extents, size, { cells: 64, granule: 512, currentPos: pos });
    expect([png.width, png.height]).to.deep.equal([p.width, p.height]);
    const centre = (cell: number) => {
      const { x, y } = cellOrigin(p, cell);
      return pixel(png, x + Math.floor((p.cellPx - p.gap) / 2), y + Math.floor((p.cellPx - p.gap) / 2));
    };
    const truth: [number, SectorStatus][] = [[0, '+'], [1, '-'], [11, '?'], [13, '+'], [20, '*'], [30, '/'], [63, '+']];
    for (const [cell, st] of truth) expect(centre(cell), `cell ${cell}`).to.deep.equal([...COLOURS[SEVERITY[st]]]);
    const { x, y } = cellOrigin(p, 40);
    expect(pixel(png, x - 1, y - 1)).to.deep.equal([0, 255, 255]);
  });

  it('a lone bad sector next to the read position stays red when cells are 1-3 px (the position mark covers no cell)', () => {
    for (const width of [800, 200]) {
      const opts = { width, cells: width === 800 ? 200_000 : 4096, granule: 512 };
      const p0 = layoutMap(extents, size, opts);
      expect(p0.gap, `width ${width}`).to.equal(0);
      const cellBytes = p0.grid.cellBytes;
      // ddrescue's position just past the bad sector it found: the bad cell is the one before the marked one.
      const bad = 3 * p0.cols + 5;
      const ext = mapOf(size, [{ pos: bad * cellBytes, size: 512, status: '-' }]);
      for (const currentPos of [(bad + 1) * cellBytes, (bad - 1) * cellBytes, (bad + p0.cols) * cellBytes]) {
        const o = { ...opts, currentPos };
        const p = layoutMap(ext, size, o);
        const png = PNG.sync.read(renderMapPng(ext, size, o));
        const { x, y } = cellOrigin(p, bad);
        for (let dx = 0; dx < p.cellPx; dx++) {
          for (let dy = 0; dy < p.cellPx; dy++) expect(pixel(png, x + dx, y + dy), `width ${width} pos ${currentPos}`).to.deep.equal([...COLOURS[SEVERITY['-']]]);
        }
        const svg = renderMapSvg(ext, size, o);
        expect(svg).to.include('id="current-pos"');
        for (const m of svg.matchAll(/<rect [^>]*stroke="#00ffff"[^>]*>|<rect [^>]*fill="#00ffff"[^>]*>/g)) {
          const [rx, ry, rw, rh] = ['x', 'y', 'width', 'height'].map((k) => Number(new RegExp(` ${k}="([-0-9.]+)"`).exec(m[0])![1]));
          const overlaps = rx < x + p.cellPx && rx + rw > x && ry < y + p.cellPx && ry + rh > y;
          expect(overlaps, `SVG mark ${m[0]} over the bad cell`).to.equal(false);
        }
      }
    }
  });

  it('draws the same cells as SVG, with a legend of byte counts', () => {
    const svg = renderMapSvg(extents, size, { cells: 64, granule: 512, currentPos: 0 });
    expect(svg).to.match(/^<svg /);
    expect(svg).to.include('data-cell="1" data-status="-"');
    expect(svg).to.include('data-cell="20" data-status="*"');
    expect(svg).to.match(/bad\s+512 B/);
    expect(svg).to.include('id="current-pos"');
  });

  it('shows bytes outside the mapfile domain in their own colour', () => {
    const g = buildGrid([{ pos: 4 * MiB, size: 4 * MiB, status: '+' }], 8 * MiB, 8);
    expect([...g.cells]).to.deep.equal([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('the PNG legend has a glyph for every character it writes, "<0.01%" included (it drew "?0.01%")', () => {
    const tiny = layoutMap(mapOf(4096 * MiB, [{ pos: 512, size: 4096 * MiB - 512, status: '-' }]), 4096 * MiB, { title: 'disk[1]~.map', currentPos: 0 });
    const text = tiny.legend.map((l) => l.text).join('');
    expect(text).to.contain('<0.01%');
    for (const ch of new Set(text)) if (ch !== '?') expect(glyphRows(ch), `glyph for ${JSON.stringify(ch)}`).to.not.equal(glyphRows('?'));
  });

  it('rejects impossible picture options with a RangeError', () => {
    expect(() => layoutMap(extents, size, { width: 10 })).to.throw(RangeError);
    expect(() => layoutMap(extents, size, { cells: 0 })).to.throw(RangeError);
  });
});
