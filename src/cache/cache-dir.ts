// Where caches live. Choice (documented for users):
// - `--cache DIR` names one cache explicitly: it belongs to one medium, and opening it with another medium is a
//   CacheMismatchError (never silently reused, never silently replaced).
// - Without it, caches live under $XDG_CACHE_HOME/blkfs/ (fallback ~/.cache/blkfs/), one directory per medium,
//   named <fingerprint prefix>-<size>. Swapping discs in the same drive therefore opens (or creates) the other
//   disc's cache instead of failing. To find the cache of the medium in the drive without reading its whole
//   fingerprint window again, each cache keeps a small identity.json hint (size, sector size, probe sectors); only
//   caches of the same size and sector size are probed, reusing one device read per probe sector.
import * as fs from 'fs';
import * as path from 'path';
import { DATA_FILE, IDENTITY_HINT_FILE, STATE_FILE, defaultCacheRoot } from './cache-paths';
import { replacePrivateFile } from './private-files';
import { StateStore } from './state-store';

// The cache's file names and root live in the leaf cache-paths.ts (no SQLite); said here too for this module's users.
export { DATA_FILE, IDENTITY_HINT_FILE, STATE_FILE, defaultCacheRoot };

export interface IdentityHint {
  size: number;
  sectorSize: number;
  fingerprint: string;
  probeSectors: number[];
}

/**
 * An identity.json as written by writeIdentityHint. Anything else (JSON of another shape: null, [], a size that is
 * no number) throws a plain Error saying what is wrong, so no reader gets a TypeError or "bad medium size undefined".
 */
export function parseIdentityHint(text: string): IdentityHint {
  const h = JSON.parse(text) as Partial<Record<keyof IdentityHint, unknown>> | null;
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new Error(`${IDENTITY_HINT_FILE} holds no object`);
  if (!isCount(h.size)) throw new Error(`${IDENTITY_HINT_FILE} has no valid size`);
  if (!isCount(h.sectorSize) || h.sectorSize === 0) throw new Error(`${IDENTITY_HINT_FILE} has no valid sectorSize`);
  if (typeof h.fingerprint !== 'string') throw new Error(`${IDENTITY_HINT_FILE} has no valid fingerprint`);
  if (!Array.isArray(h.probeSectors) || !h.probeSectors.every(isCount)) throw new Error(`${IDENTITY_HINT_FILE} has no valid probeSectors`);
  return { size: h.size, sectorSize: h.sectorSize, fingerprint: h.fingerprint, probeSectors: h.probeSectors };
}

export function cacheDirName(fingerprint: string, size: number): string {
  return `${fingerprint.slice(0, 16)}-${size}`;
}

export function hasState(dir: string): boolean {
  return fs.existsSync(path.join(dir, STATE_FILE));
}

/** Writes the hint durably (synced, then renamed into place, the directory synced): a cache is found by it. */
export function writeIdentityHint(dir: string, hint: IdentityHint): void {
  replacePrivateFile(path.join(dir, IDENTITY_HINT_FILE), JSON.stringify(hint) + '\n');
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/**
 * A cache directory's identity hint. When identity.json is missing, unreadable or malformed (an older blkfs killed or cut off
 * between the cache's first commit and its hint), the identity its database records stands in for it: the cache is
 * still this medium's, and not finding it would mean reading the whole medium again into a new one. Undefined when
 * neither can be read (no cache, or one another process holds).
 */
export function readIdentityHint(dir: string): IdentityHint | undefined {
  try {
    return parseIdentityHint(fs.readFileSync(path.join(dir, IDENTITY_HINT_FILE), 'utf8'));
  } catch {
    return storedIdentity(dir);
  }
}

/** The identity a cache directory's database records (the hint is a copy of it); undefined when it cannot be read. */
export function storedIdentity(dir: string): IdentityHint | undefined {
  if (!hasState(dir)) return undefined; // not a cache directory
  let state: StateStore;
  try {
    state = StateStore.open(path.join(dir, STATE_FILE), dir);
  } catch {
    return undefined; // busy (in use: its holder wrote or repairs its hint), or not a database
  }
  try {
    const id = state.identity();
    return id && { size: id.size, sectorSize: id.sectorSize, fingerprint: id.fingerprint, probeSectors: id.probeSectors };
  } catch {
    return undefined;
  } finally {
    state.close();
  }
}

/** Caches under root whose hint says they hold a medium of this size and sector size. */
export function candidateCaches(root: string, size: number, sectorSize: number): { dir: string; hint: IdentityHint }[] {
  let names: string[];
  try {
    names = fs.readdirSync(root).sort();
  } catch {
    return [];
  }
  const out: { dir: string; hint: IdentityHint }[] = [];
  for (const name of names) {
    const dir = path.join(root, name);
    if (!hasState(dir)) continue; // not a cache directory
    let hint = readIdentityHint(dir);
    // A hint that disagrees with the name it was created under (a flipped bit in its size or fingerprint) is not
    // believed: the database says, or the cache would not be found and the whole medium read again into a new one.
    const base = hint && cacheDirName(hint.fingerprint, hint.size);
    if (hint && name !== base && !name.startsWith(`${base}.`)) hint = storedIdentity(dir) ?? hint;
    if (hint?.size === size && hint.sectorSize === sectorSize) out.push({ dir, hint });
  }
  return out;
}

/**
 * A directory name under root not used yet: <base>, <base>.2, <base>.3, ... One holding a data file but no state lost
 * its state (a cache creates its state first): its bytes are left for the user to recover, with a warning, never
 * written over by a new cache that silently reads the whole medium again.
 */
export function freshDir(root: string, base: string): string {
  let dir = path.join(root, base);
  for (let n = 2; fs.existsSync(dir) && (hasState(dir) || fs.existsSync(path.join(dir, DATA_FILE))); n++) {
    if (!hasState(dir)) process.emitWarning(`cache ${dir} has a ${DATA_FILE} but no ${STATE_FILE} (deleted?): left as it is; its sectors are read again into a new cache`);
    dir = path.join(root, `${base}.${n}`);
  }
  return dir;
}
