// The map as one line of a terminal: one character per cell, coloured with ddrescueview's colours (24-bit ANSI)
// or, plain, with ddrescue's status characters. A second line marks the current read position with '^'.
import type { ByteExtent } from './grid';
import { buildGrid } from './grid';
import { COLOURS, STATUS_OF_VALUE } from './palette';

export function terminalMap(
  extents: readonly ByteExtent[],
  size: number,
  opts: { columns: number; colour: boolean; currentPos?: number; granule?: number },
): string {
  const columns = Math.max(8, opts.columns);
  const g = buildGrid(extents, size, columns, { currentPos: opts.currentPos, granule: opts.granule });
  let line = '';
  let last = -1;
  for (const v of g.cells) {
    if (opts.colour) {
      if (v !== last) {
        const [r, gr, b] = COLOURS[v];
        line += `\x1b[38;2;${r};${gr};${b}m`;
        last = v;
      }
      line += '█';
    } else {
      line += STATUS_OF_VALUE[v] ?? ' ';
    }
  }
  if (opts.colour) line += '\x1b[0m';
  const marker = g.activeCell !== undefined ? '\n' + ' '.repeat(g.activeCell) + '^' : '';
  return line + marker;
}
