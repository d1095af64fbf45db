// Checks of file arguments that give the user a clear message (exit 1) instead of a stack of ENOENT.
import * as fs from 'fs';
import { UserError } from '../errors';

export function requireReadableFile(file: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserError(`${what} not found: ${file}`);
    if (code === 'ENOTCONN') throw new UserError(`${what} cannot be read: ${file} is on a blkfs mount whose server is gone (run blkfs umount on it)`);
    throw new UserError(`${what} cannot be read: ${file} (${code})`);
  }
  if (st.isDirectory()) throw new UserError(`${what} is a directory: ${file}`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UserError(`${what} is not readable: ${file}`);
  }
}

/** Default mapfile name beside an image: disc.img → disc.map, anything else → NAME.map. */
export function mapfileBeside(image: string): string {
  return /\.(img|iso|bin|raw)$/i.test(image) ? image.replace(/\.[^.]+$/, '.map') : `${image}.map`;
}
