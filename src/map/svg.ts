// map.svg: the picture of layout.ts as SVG text (one <rect> per run of equal cells in a row when cells touch).
import type { ByteExtent } from './grid';
import { cellOrigin, layoutMap, MapPictureOptions, positionTicks } from './layout';
import { ACTIVE, BACKGROUND, COLOURS, hexColour, SEVERITY, STATUS_OF_VALUE, TEXT } from './palette';

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderMapSvg(extents: readonly ByteExtent[], size: number, opts: MapPictureOptions = {}): string {
  const p = layoutMap(extents, size, opts);
  const { cells, activeCell } = p.grid;
  const cell = p.cellPx - p.gap;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${p.width}" height="${p.height}" viewBox="0 0 ${p.width} ${p.height}">`,
    `<rect width="${p.width}" height="${p.height}" fill="${hexColour(BACKGROUND)}"/>`,
    '<g shape-rendering="crispEdges">',
  ];
  for (let i = 0; i < cells.length; ) {
    const rowEnd = Math.min(cells.length, (Math.floor(i / p.cols) + 1) * p.cols);
    let j = i + 1;
    if (p.gap === 0) while (j < rowEnd && cells[j] === cells[i]) j++;
    const { x, y } = cellOrigin(p, i);
    const w = (j - i) * p.cellPx - p.gap;
    const st = STATUS_OF_VALUE[cells[i]] ?? 'outside';
    out.push(`<rect x="${x}" y="${y}" width="${w}" height="${cell}" fill="${hexColour(COLOURS[cells[i]])}" data-cell="${i}" data-status="${escapeXml(st)}"/>`);
    i = j;
  }
  out.push('</g>');
  if (activeCell !== undefined) {
    const { x, y } = cellOrigin(p, activeCell);
    // In the gaps around the cell; where cells touch, ticks in the margins (a ring would cover its neighbours).
    if (p.gap > 0) {
      out.push(`<rect id="current-pos" x="${x - 1.5}" y="${y - 1.5}" width="${cell + 3}" height="${cell + 3}" fill="none" stroke="${hexColour(ACTIVE)}" stroke-width="1"/>`);
    } else {
      out.push(`<g id="current-pos">`);
      for (const t of positionTicks(p, x, y)) out.push(`<rect x="${t.x}" y="${t.y}" width="${t.w}" height="${t.h}" fill="${hexColour(ACTIVE)}"/>`);
      out.push('</g>');
    }
  }
  const fs = 7 * p.textScale + 2;
  p.legend.forEach((line, n) => {
    const y = p.legendTop + n * p.lineHeight;
    let x = p.margin;
    if (line.status) {
      out.push(`<rect x="${x}" y="${y}" width="${7 * p.textScale}" height="${7 * p.textScale}" fill="${hexColour(COLOURS[SEVERITY[line.status]])}"/>`);
      x += 10 * p.textScale;
    }
    out.push(
      `<text x="${x}" y="${y + 7 * p.textScale}" font-family="monospace" font-size="${fs}" fill="${hexColour(TEXT)}" xml:space="preserve">${escapeXml(line.text)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
