// A mount as `blkfs archive` sees it (MountAccess), without FUSE: a complete medium whose /sbx/image.sbx is a given
// buffer, for the archive's own logic (resume, finished bags) against real stores.
import type { MountAccess } from '../../src/archive/archive-run';
import { Layout } from '../../src/sbx/format/layout';

export const MEDIUM = 12 << 20;
export const LAYOUT = { version: 17 as const, d: 10, p: 2, burst: 12 };
export const CONTAINER = new Layout(LAYOUT).containerSize(MEDIUM);
export const PART = 5 << 20;
export const BAG = 'medium-0123456789AB';

/**
 * A complete medium's mount whose /sbx/image.sbx is `container` (the archive takes its bytes as they come), or
 * what `container` returns for each open (a state pinned per open).
 */
export function fakeMount(cacheDir: string, container: Buffer | (() => Buffer), retries = 0): MountAccess {
  const open = typeof container === 'function' ? container : () => container;
  return {
    status: async () => ({
      size: MEDIUM,
      sectorSize: 512,
      bytesCached: MEDIUM,
      bytesBad: 0,
      bytesUntried: 0,
      bytesNonTrimmed: 0,
      bytesNonScraped: 0,
      retries,
      sbxImage: { version: 17, dataShards: 10, parityShards: 2, burst: 12, hash: 'sha256', blockSize: 512, containerSize: CONTAINER, uid: '0123456789AB', name: 'medium.img' },
      server: { pid: process.pid, cacheDir, source: 'medium.img', controlSocket: '', mountpoint: '' },
    }),
    mapfile: async () => `0x00000000 + 1\n0x00000000 0x${MEDIUM.toString(16)} +\n`,
    openContainer: async () => {
      const bytes = open();
      return { read: async (o: number, n: number) => Buffer.from(bytes.subarray(o, o + n)), close: async () => {} };
    },
    readFile: async (name: string) => Buffer.from(`${name}\n`),
  };
}

