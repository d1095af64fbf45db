// Where caches live and what a cache directory's files are called: a leaf, so that commands which only name a
// cache (the control client's socket path, --cache checks) do not load SQLite (better-sqlite3, ~5 ms of start-up).
import * as os from 'os';
import * as path from 'path';

export const STATE_FILE = 'state.sqlite';
export const DATA_FILE = 'data.img';
export const IDENTITY_HINT_FILE = 'identity.json';

export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // XDG Base Directory spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'blkfs');
  return path.join(env.HOME || os.homedir(), '.cache', 'blkfs');
}
