// Geometry and legend of a map picture, shared by the PNG and SVG renderers so both draw the same thing:
// the grid of cells (reading order, left to right, top to bottom), then a legend with the byte count of each
// status, the cell size, the bad areas and the current read position.
import type { SectorStatus } from './palette';
import { ByteExtent, buildGrid, MapGrid } from './grid';
import { formatBytes, formatPercent, hexPos } from './format';
import { LEGEND_ORDER, STATUS_NAMES } from './palette';

export interface MapPictureOptions {
  /** Picture width in pixels (default 800). */
  width?: number;
  /** Upper bound on the number of cells (default 4096). */
  cells?: number;
  /** The current read position (ddrescue's current_pos), marked on its cell. */
  currentPos?: number;
  /** Cells hold whole multiples of this many bytes (the sector size). */
  granule?: number;
  /** A heading line above the legend (e.g. the mapfile's name). */
  title?: string;
}

export interface LegendLine {
  /** A colour swatch before the text. */
  status?: SectorStatus;
  text: string;
}

export interface MapPicture {
  width: number;
  height: number;
  grid: MapGrid;
  cellPx: number;
  /** Pixels between cells (0 when cells are too small for a gap). */
  gap: number;
  cols: number;
  rows: number;
  margin: number;
  /** Top of the legend. */
  legendTop: number;
  lineHeight: number;
  textScale: number;
  legend: LegendLine[];
}

export const DEFAULT_WIDTH = 800;
export const DEFAULT_CELLS = 4096;
const MARGIN = 8;
const MAX_CELL_PX = 16;

export function layoutMap(extents: readonly ByteExtent[], size: number, opts: MapPictureOptions = {}): MapPicture {
  const width = Math.round(opts.width ?? DEFAULT_WIDTH);
  if (!Number.isSafeInteger(width) || width < 64 || width > 16384) throw new RangeError(`picture width must be 64..16384 pixels, not ${opts.width}`);
  const maxCells = opts.cells ?? DEFAULT_CELLS;
  if (!Number.isSafeInteger(maxCells) || maxCells < 1 || maxCells > 4_000_000) throw new RangeError(`cell count must be 1..4000000, not ${opts.cells}`);
  const grid = buildGrid(extents, size, maxCells, { currentPos: opts.currentPos, granule: opts.granule });
  const n = Math.max(1, grid.cells.length);
  const inner = width - 2 * MARGIN;
  // Cells about square, the grid about 0.6 of the width tall.
  const cellPx = Math.max(1, Math.min(MAX_CELL_PX, Math.floor(Math.sqrt((inner * inner * 0.6) / n))));
  const cols = Math.max(1, Math.min(n, Math.floor(inner / cellPx)));
  const rows = Math.ceil(n / cols);
  const gap = cellPx >= 4 ? 1 : 0;
  const textScale = width >= 480 ? 2 : 1;
  const lineHeight = 10 * textScale;
  const legend = legendLines(grid, size, opts);
  const legendTop = MARGIN + rows * cellPx + MARGIN;
  const height = legendTop + legend.length * lineHeight + MARGIN;
  return { width, height, grid, cellPx, gap, cols, rows, margin: MARGIN, legendTop, lineHeight, textScale, legend };
}

/** Top-left pixel of cell i. */
export function cellOrigin(p: MapPicture, i: number): { x: number; y: number } {
  return { x: p.margin + (i % p.cols) * p.cellPx, y: p.margin + Math.floor(i / p.cols) * p.cellPx };
}

/** Where cells touch, the current position is two ticks in the margins, above its column and left of its row. */
export function positionTicks(p: MapPicture, x: number, y: number): { x: number; y: number; w: number; h: number }[] {
  return [
    { x: x - 2, y: 1, w: p.cellPx + 4, h: p.margin - 3 },
    { x: 1, y: y - 2, w: p.margin - 3, h: p.cellPx + 4 },
  ];
}

function legendLines(grid: MapGrid, size: number, opts: MapPictureOptions): LegendLine[] {
  const s = grid.summary;
  const lines: LegendLine[] = [];
  if (opts.title) lines.push({ text: opts.title });
  lines.push({ text: `size ${formatBytes(size)}  cell ${formatBytes(grid.cellBytes)}` });
  for (const st of LEGEND_ORDER) {
    const b = s.bytes[st];
    lines.push({ status: st, text: `${STATUS_NAMES[st].padEnd(12)}${formatBytes(b).padStart(9)}  ${formatPercent(b, size).padStart(6)}` });
  }
  lines.push({ text: `bad areas ${s.badAreas}  largest ${formatBytes(s.largestBadArea)}` });
  if (opts.currentPos !== undefined) lines.push({ text: `pos ${hexPos(opts.currentPos)} (cyan)` });
  return lines;
}
