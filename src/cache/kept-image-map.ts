// CACHE/image.map: the map of the image last exported from this cache or imported into it, and which image that is.
// /mapfile shows it to a ddrescue that continues that image; an export over that image is checked against it.
import * as fs from 'fs';
import * as path from 'path';
import type { CachedDevice } from './cached-device';
import { mergeRanges, subtractRanges } from './byte-ranges';
import { parseMapfile } from './mapfile';

/**
 * Beside the cache: the mapfile of the last image exported from it or imported into it, i.e. what that image holds.
 * /mapfile gives it to a ddrescue that starts on that image (it must not skip what the image lacks).
 */
export const IMAGE_MAPFILE = 'image.map';
/**
 * image.map's first line: the image it describes (absolute, URI-encoded: a path may hold any byte but NUL), so only a
 * ddrescue writing that image is shown it; one writing another image would skip what that image lacks.
 */
const IMAGE_LINE = '# blkfs image: ';

/** The image a kept image.map describes; undefined when it does not say (kept by an older blkfs, or written by hand). */
export function imageOfKeptMap(text: string): string | undefined {
  if (!text.startsWith(IMAGE_LINE)) return undefined;
  try {
    return decodeURIComponent(text.slice(IMAGE_LINE.length, text.indexOf('\n')));
  } catch {
    return undefined;
  }
}

/** Keeps `text`, the mapfile of `image` (just exported or imported), as the cache's image.map, naming `image`. */
export async function keepImageMap(dev: Pick<CachedDevice, 'cacheDir'>, text: string, image: string): Promise<void> {
  const file = path.join(dev.cacheDir, IMAGE_MAPFILE);
  try {
    // Synced before the rename: a power cut must leave the old map or the new one, never an empty file.
    const fh = await fs.promises.open(`${file}.tmp`, 'w', 0o600);
    try {
      await fh.writeFile(`${IMAGE_LINE}${encodeURIComponent(path.resolve(image))}\n${text}`, 'latin1');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(`${file}.tmp`, file);
  } catch {
    // a read-only cache (export of an archived copy): a ddrescue then copies what the cache holds (see /mapfile)
  }
}

/**
 * The bytes `image` holds that `writes` (byte ranges an export is about to write) does not, when `image` is the image
 * the cache's image.map describes (by path, or the same file by another name): replacing it would lose them. They are
 * partial sectors of an imported rescue (the cache keeps whole sectors only) or chunks found damaged since. Undefined
 * when nothing would be lost, or the image is not that one (or image.map does not name its image).
 */
export async function bytesLostByReplacing(cacheDir: string, image: string, writes: readonly [number, number][]): Promise<{ bytes: number; first: number } | undefined> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(cacheDir, IMAGE_MAPFILE), 'latin1');
  } catch {
    return undefined;
  }
  const kept = imageOfKeptMap(text);
  if (kept === undefined || !(await sameFile(kept, image))) return undefined;
  // A device is written in place: what the export does not write stays on it.
  if ((await fs.promises.stat(image).catch(() => undefined))?.isFile() !== true) return undefined;
  let holds: [number, number][];
  try {
    holds = parseMapfile(text).blocks.filter((b) => b.status === '+').map((b) => [b.pos, b.pos + b.size]);
  } catch {
    return undefined; // not a map we kept (edited by hand): it says nothing of what the image holds
  }
  const lost = subtractRanges(mergeRanges(holds), mergeRanges([...writes]));
  if (lost.length === 0) return undefined;
  return { bytes: lost.reduce((n, [a, b]) => n + b - a, 0), first: lost[0][0] };
}

/** The same existing file, by the same path or another name (a link, a bind mount); a path whose file is gone is no image. */
export async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([fs.promises.stat(a).catch(() => undefined), fs.promises.stat(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.dev === y.dev && x.ino === y.ino;
}
