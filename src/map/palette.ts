// ddrescueview's colours (ddrescueview 0.4.5 defaults, converted from Lazarus BGR TColor to RGB) and the order
// in which statuses win a cell. ddrescueview blends a cell's statuses by weight; we paint the worst one so that a
// single bad sector in a 2 TB map still shows: bad > non-scraped > non-trimmed > non-tried > finished.

/** GNU ddrescue's block statuses (the same union as the cache's SectorStatus; src/map imports nothing of ours). */
export type SectorStatus = '?' | '*' | '/' | '-' | '+';

export type Rgb = readonly [number, number, number];

/** Cell value for a cell no mapfile block touches (outside the mapfile's domain). */
export const OUTSIDE = 0;

/** Cell values in increasing severity; a cell keeps the largest value of the blocks that touch it. */
export const SEVERITY: Readonly<Record<SectorStatus, number>> = { '+': 1, '?': 2, '*': 3, '/': 4, '-': 5 };
export const STATUS_OF_VALUE: readonly (SectorStatus | undefined)[] = [undefined, '+', '?', '*', '/', '-'];

export const COLOURS: readonly Rgb[] = [
  [0x34, 0x34, 0x34], // outside the mapfile's domain
  [0x20, 0xe0, 0x20], // + finished
  [0x90, 0x90, 0x90], // ? non-tried
  [0xff, 0xe0, 0x00], // * non-trimmed
  [0x20, 0x20, 0xff], // / non-scraped
  [0xff, 0x00, 0x00], // - bad sector(s)
];

/** ddrescueview's "active" colour: the current read position. */
export const ACTIVE: Rgb = [0x00, 0xff, 0xff];
export const BACKGROUND: Rgb = [0x20, 0x20, 0x20];
export const TEXT: Rgb = [0xe8, 0xe8, 0xe8];

export const STATUS_NAMES: Readonly<Record<SectorStatus, string>> = {
  '+': 'finished',
  '?': 'non-tried',
  '*': 'non-trimmed',
  '/': 'non-scraped',
  '-': 'bad',
};

/** Legend order: what is done first, then what is left, then what failed. */
export const LEGEND_ORDER: readonly SectorStatus[] = ['+', '?', '*', '/', '-'];

export function hexColour([r, g, b]: Rgb): string {
  return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
}
