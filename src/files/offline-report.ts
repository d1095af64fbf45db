// The file report of a finished (or partial) rescue on disk: a ddrescue image and its mapfile.
import * as fs from 'fs';
import { MapBlock, parseMapfile, readMapfileText } from '../cache/mapfile';
import { UserError } from '../errors';
import { MapfileDamage } from './damage-source';
import { FileReport, FileReportJson } from './file-report';
import type { MediumLayout } from './layout';
import { readMediumLayout } from './tsk-loaddb';

export interface OfflineReportOptions {
  /**
   * Reads the layout with TSK seeing only the `rescued` byte ranges ([start, end), sorted) of `image`, every other
   * byte of the `size`-byte medium EIO (src/cli/masked-layout.ts: a private FUSE mount). Used unless every byte is '+'.
   */
  readMasked: (image: string, rescued: [number, number][], size: number, signal?: AbortSignal) => Promise<MediumLayout>;
  /** Stops TSK (the report then rejects, once TSK has exited and any mount is gone). */
  signal?: AbortSignal;
}

export async function offlineFileReport(image: string, mapfile: string, opts: OfflineReportOptions): Promise<FileReportJson> {
  const imageStat = await fs.promises.stat(image).catch(() => {
    throw new UserError(`cannot read image: ${image}`);
  });
  if (imageStat.isDirectory()) throw new UserError(`image is a directory: ${image}`);
  // Name the file, as `blkfs map` and `blkfs import` do: "disk.map: Error in mapfile, line 3: ...".
  const named = (err: UserError) => new UserError(`${mapfile}: ${err.message}`);
  let mapText: string;
  try {
    mapText = await readMapfileText(mapfile);
  } catch (err) {
    throw err instanceof UserError ? named(err) : new UserError(`cannot read mapfile: ${mapfile}`);
  }
  let parsed: ReturnType<typeof parseMapfile>;
  try {
    parsed = parseMapfile(mapText);
  } catch (err) {
    throw err instanceof UserError ? named(err) : err;
  }
  const last = parsed.blocks[parsed.blocks.length - 1];
  const mapEnd = last ? last.pos + last.size : 0;
  // ddrescue writes every byte it calls rescued: an image file that ends before them is cut short (a copy that
  // ran out of room) or another rescue's, and its files would be called intact on bytes it does not hold.
  const rescuedEnd = parsed.blocks.reduce((m, b) => (b.status === '+' ? b.pos + b.size : m), 0);
  if (imageStat.isFile() && imageStat.size < rescuedEnd) {
    throw new UserError(
      `${image} has ${imageStat.size} bytes, but its mapfile ${mapfile} says bytes up to ${rescuedEnd} were rescued: the image is cut short, or the mapfile is another image's`,
    );
  }
  const size = Math.max(imageStat.size, mapEnd);
  // Where the map is not '+', the image holds whatever was there before ddrescue (zeros in a new file; a used disk's
  // or an earlier image's bytes after -f or in a reused file; --fill-mode's pattern): TSK must not take that for
  // metadata, so it reads those bytes as EIO, as a mount's /raw answers. A fully rescued image is read as it is.
  const rescued = rescuedRanges(parsed.blocks, size);
  const whole = rescued.reduce((n, [s, e]) => n + e - s, 0) === size;
  const layout = whole ? await readMediumLayout(image, { signal: opts.signal }) : await opts.readMasked(image, rescued, size, opts.signal);
  return new FileReport(layout, new MapfileDamage(parsed.blocks, size)).toJSON();
}

/** The mapfile's '+' blocks as byte ranges [start, end) within [0, size), adjacent ones merged. */
export function rescuedRanges(blocks: readonly MapBlock[], size: number): [number, number][] {
  const out: [number, number][] = [];
  for (const b of blocks) {
    if (b.status !== '+') continue;
    const [s, e] = [b.pos, Math.min(size, b.pos + b.size)];
    if (e <= s) continue;
    const last = out[out.length - 1];
    if (last && last[1] === s) last[1] = e;
    else out.push([s, e]);
  }
  return out;
}
