// `blkfs map MAPFILE -o map.png|map.svg`: a ddrescueview-style picture of any GNU ddrescue mapfile.
import * as fs from 'fs';
import * as path from 'path';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import { requireReadableFile } from './paths';

interface MapOpts {
  output: string;
  width?: number;
  cells?: number;
  sectorSize?: number;
}

/**
 * The sector size a mapfile's comments state: blkfs's "# Medium: N bytes, sector size S", or GNU ddrescue's
 * "# Command line: ddrescue -b2048 …" (-b, --sector-size, and the older --block-size), which ddrescueview reads too.
 */
export function sectorSizeInComments(text: string): number | undefined {
  const head = text.slice(0, 4096);
  const m =
    /^#\s*Medium: \d+ bytes, sector size (\d+)\s*$/m.exec(head) ??
    /^#\s*Command line:.*?\s(?:-b\s*|--sector-size[=\s]|--block-size[=\s])(\d+)(?:\s|$)/m.exec(head);
  const n = m ? Number(m[1]) : NaN;
  return Number.isSafeInteger(n) && n > 0 && n <= 1 << 20 ? n : undefined;
}

export const runMap = mountAction(async (mapfile: string, opts: MapOpts) => {
  const out = path.resolve(opts.output);
  const ext = path.extname(out).toLowerCase();
  if (ext !== '.png' && ext !== '.svg') throw new UserError(`output must end in .png or .svg: ${opts.output}`);
  requireReadableFile(mapfile, 'mapfile');
  const { guardOutputs, replaceOnSuccess } = await import('./output-guard');
  guardOutputs([out], [mapfile]); // not the mapfile itself, nor into a cache directory
  if (!fs.existsSync(path.dirname(out))) throw new UserError(`output directory does not exist: ${path.dirname(out)}`);
  if (fs.existsSync(out) && fs.statSync(out).isDirectory()) throw new UserError(`output is a directory: ${out}`);
  const [{ parseMapfile, readMapfileText }, map] = await Promise.all([import('../cache/mapfile'), import('../map')]);
  let parsed;
  let text: string;
  try {
    text = await readMapfileText(mapfile);
    parsed = parseMapfile(text);
  } catch (err) {
    throw err instanceof UserError ? new UserError(`${mapfile}: ${err.message}`) : err;
  }
  const last = parsed.blocks[parsed.blocks.length - 1];
  const size = last ? last.pos + last.size : 0;
  // Nothing to draw: no picture is written (ddrescue writes this only before its first read).
  if (size === 0) throw new UserError(`${mapfile}: the mapfile describes no bytes (no data blocks): nothing to draw`);
  const granule = opts.sectorSize ?? sectorSizeInComments(text) ?? 512;
  const opt = { width: opts.width, cells: opts.cells, currentPos: parsed.currentPos, granule, title: path.basename(mapfile) };
  let picture: Buffer;
  try {
    picture = ext === '.png' ? map.renderMapPng(parsed.blocks, size, opt) : Buffer.from(map.renderMapSvg(parsed.blocks, size, opt));
  } catch (err) {
    if (err instanceof RangeError) throw new UserError(err.message);
    throw err;
  }
  try {
    await replaceOnSuccess(out, (file) => fs.promises.writeFile(file, picture)); // a failure keeps an earlier picture
  } catch (err) {
    throw new OperationError(`cannot write ${out}: ${(err as Error).message}`);
  }
  const s = map.summarize(parsed.blocks, size);
  process.stdout.write(
    `${out}: ${map.formatBytes(size)}, ${map.formatPercent(s.bytes['+'], size)} rescued, ${s.badAreas} bad areas (${map.formatBytes(s.bytes['-'])})\n`,
  );
});
