// map.png: the picture of layout.ts as RGBA pixels, encoded by pngjs.
import type { ByteExtent } from './grid';
import { ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows } from './font';
import { cellOrigin, layoutMap, MapPicture, MapPictureOptions, positionTicks } from './layout';
import { ACTIVE, BACKGROUND, COLOURS, Rgb, SEVERITY, TEXT } from './palette';

class Canvas {
  readonly data: Buffer;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = Buffer.alloc(width * height * 4);
    this.fill(0, 0, width, height, BACKGROUND);
  }

  fill(x: number, y: number, w: number, h: number, [r, g, b]: Rgb): void {
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + w);
    const y1 = Math.min(this.height, y + h);
    if (x1 <= x0) return;
    const d = this.data;
    // One row is written pixel by pixel, the others are copies of it.
    const row0 = (y0 * this.width + x0) * 4;
    for (let i = row0; i < row0 + (x1 - x0) * 4; i += 4) {
      d[i] = r;
      d[i + 1] = g;
      d[i + 2] = b;
      d[i + 3] = 255;
    }
    for (let y = y0 + 1; y < y1; y++) d.copyWithin((y * this.width + x0) * 4, row0, row0 + (x1 - x0) * 4);
  }

  outline(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.fill(x, y, w, 1, c);
    this.fill(x, y + h - 1, w, 1, c);
    this.fill(x, y, 1, h, c);
    this.fill(x + w - 1, y, 1, h, c);
  }

  text(x: number, y: number, s: string, scale: number, c: Rgb): void {
    for (let k = 0; k < s.length; k++) {
      const rows = glyphRows(s[k]);
      for (let row = 0; row < GLYPH_HEIGHT; row++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (rows[row] & (0x10 >> col)) this.fill(x + (k * ADVANCE + col) * scale, y + row * scale, scale, scale, c);
        }
      }
    }
  }
}

export function drawPicture(p: MapPicture): Canvas {
  const cv = new Canvas(p.width, p.height);
  const { cells, activeCell } = p.grid;
  const size = p.cellPx - p.gap;
  // Runs of equal cells along a row are one fill.
  for (let i = 0; i < cells.length; ) {
    const rowEnd = Math.min(cells.length, (Math.floor(i / p.cols) + 1) * p.cols);
    let j = i + 1;
    while (j < rowEnd && cells[j] === cells[i]) j++;
    const { x, y } = cellOrigin(p, i);
    if (p.gap === 0) cv.fill(x, y, (j - i) * p.cellPx, p.cellPx, COLOURS[cells[i]]);
    else for (let k = i; k < j; k++) cv.fill(x + (k - i) * p.cellPx, y, size, size, COLOURS[cells[i]]);
    i = j;
  }
  if (activeCell !== undefined) {
    const { x, y } = cellOrigin(p, activeCell);
    // Around the cell, in the gaps, not on it: the cell keeps its own colour. Where cells touch, a ring covered
    // its neighbours (the lone bad sector ddrescue just left behind turned cyan): ticks in the margins point at it.
    if (p.gap > 0) cv.outline(x - 1, y - 1, size + 2, size + 2, ACTIVE);
    else for (const t of positionTicks(p, x, y)) cv.fill(t.x, t.y, t.w, t.h, ACTIVE);
  }
  const sc = p.textScale;
  p.legend.forEach((line, n) => {
    const y = p.legendTop + n * p.lineHeight;
    let x = p.margin;
    if (line.status) {
      cv.fill(x, y, GLYPH_HEIGHT * sc, GLYPH_HEIGHT * sc, COLOURS[SEVERITY[line.status]]);
      x += (GLYPH_HEIGHT + 3) * sc;
    }
    cv.text(x, y, line.text, sc, TEXT);
  });
  return cv;
}

export function renderMapPng(extents: readonly ByteExtent[], size: number, opts: MapPictureOptions = {}): Buffer {
  const p = layoutMap(extents, size, opts);
  const cv = drawPicture(p);
  // Loaded at the first picture: pngjs (and zlib) would otherwise weigh on every start of a mount server.
  const { PNG } = require('pngjs') as typeof import('pngjs');
  const png = new PNG({ width: p.width, height: p.height });
  cv.data.copy(png.data);
  return PNG.sync.write(png, { deflateLevel: 6 });
}
