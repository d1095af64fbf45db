// The file report of a finished (or partial) rescue on disk: a ddrescue image and its mapfile.
import * as fs from 'fs';
import { parseMapfile, readMapfileText } from '../cache/mapfile';
import { UserError } from '../errors';
import { MapfileDamage } from './damage-source';
import { FileReport, FileReportJson } from './file-report';
import { readMediumLayout } from './tsk-loaddb';

export async function offlineFileReport(image: string, mapfile: string): Promise<FileReportJson> {
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
  const layout = await readMediumLayout(image);
  return new FileReport(layout, new MapfileDamage(parsed.blocks, Math.max(imageStat.size, mapEnd))).toJSON();
}
