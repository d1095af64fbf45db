// Pictures of a ddrescue map (ddrescueview-style grid) as PNG or SVG, from byte extents. Pure: no I/O, and no
// imports of ours (like sbx/), so the CLI, the server and the views can all draw maps.
export { ByteExtent, badAreasOf, buildGrid, bytesOfRuns, MapGrid, MapSummary, summarize } from './grid';
export { cellOrigin, layoutMap, MapPicture, MapPictureOptions } from './layout';
export { renderMapPng } from './png';
export { renderMapSvg } from './svg';
export { COLOURS, SEVERITY, STATUS_NAMES, SectorStatus, hexColour } from './palette';
export * from './format';
export { terminalMap } from './terminal';
