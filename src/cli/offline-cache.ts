// Opening a cache without its medium, for `blkfs import --cache DIR` and `blkfs export --cache DIR`: both only
// read and write cached sectors, never the device.
//
// CachedDevice.open wants a BlockSource and checks the medium's identity by reading its probe sectors. Offline
// there is nothing to check against, so this source answers exactly the cache's own probe sectors (from the
// data file, where creation stored them) and refuses everything else as a lost source: no other read can
// reach the data file through it, so nothing can ever be recorded '+' from it.
// TODO(cache): replace with a CachedDevice.openOffline(dir) when the cache layer offers one.
import * as fs from 'fs';
import * as path from 'path';
import { BlockSource, SourceLostError, SourceStats } from '../source/block-source';
import { CachedDevice } from '../cache/cached-device';
import { DATA_FILE, hasState, IDENTITY_HINT_FILE, IdentityHint } from '../cache/cache-dir';
import { UserError } from '../errors';

class CachedProbeSectors implements BlockSource {
  readonly size: number;
  readonly sectorSize: number;
  private readonly probe: Set<number>;

  constructor(
    private readonly dir: string,
    hint: IdentityHint,
  ) {
    this.size = hint.size;
    this.sectorSize = hint.sectorSize;
    this.probe = new Set(hint.probeSectors);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const ss = this.sectorSize;
    const first = Math.floor(offset / ss);
    const last = Math.ceil((offset + length) / ss);
    for (let s = first; s < last; s++) {
      if (!this.probe.has(s)) throw new SourceLostError('the medium is not connected (offline cache)');
    }
    const fh = await fs.promises.open(path.join(this.dir, DATA_FILE), 'r');
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new SourceLostError('the cache data file is short');
      return buf;
    } finally {
      await fh.close();
    }
  }

  stats(): SourceStats {
    return { reads: 0, bytes: 0, failedReads: 0 };
  }

  async close(): Promise<void> {}
}

/** Opens an existing cache directory with no medium attached. */
export async function openOfflineCache(cacheDir: string): Promise<CachedDevice> {
  const dir = path.resolve(cacheDir);
  if (!fs.existsSync(dir)) throw new UserError(`cache directory does not exist: ${cacheDir}`);
  if (!hasState(dir)) throw new UserError(`${cacheDir} holds no blkfs cache`);
  let hint: IdentityHint;
  try {
    hint = JSON.parse(fs.readFileSync(path.join(dir, IDENTITY_HINT_FILE), 'utf8')) as IdentityHint;
  } catch (err) {
    throw new UserError(`${cacheDir}: cannot read the cache's identity (${(err as Error).message})`);
  }
  return CachedDevice.open({ cacheDir: dir, source: new CachedProbeSectors(dir, hint) });
}
