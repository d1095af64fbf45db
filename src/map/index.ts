// Pictures of a ddrescue map (ddrescueview-style grid) as PNG or SVG, from byte extents. Pure: no I/O.
export { ByteExtent, badAreasOf, buildGrid, bytesOfRuns, MapGrid, MapSummary, summarize } from './grid';
export { cellOrigin, layoutMap, MapPicture, MapPictureOptions } from './layout';
export { renderMapPng } from './png';
export { renderMapSvg } from './svg';
export { COLOURS, SEVERITY, STATUS_NAMES, hexColour } from './palette';
export * from './format';
export { terminalMap } from './terminal';
