// `blkfs verify --cache DIR` without a mount: every '+' byte of the data file against its checksum, and with
// forgetDamaged the damaged ranges marked untried ('?') so the next mount reads them from the medium again.
import * as fs from 'fs';
import * as path from 'path';
import { UserError } from '../errors';
import { DATA_FILE, STATE_FILE, hasState } from './cache-dir';
import { DataFile, readUpTo } from './data-file';
import { DamagedRange, FixityLedger, VerifyReport } from './fixity';
import { StateStore } from './state-store';
import { CacheBusyError } from './errors';

export interface OfflineVerifyResult extends VerifyReport {
  cacheDir: string;
  /** Bytes marked untried again by forgetDamaged. */
  forgottenBytes?: number;
}

export async function verifyCacheDir(
  cacheDir: string,
  opts: { forgetDamaged?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<OfflineVerifyResult> {
  const dir = path.resolve(cacheDir);
  if (!fs.existsSync(dir)) throw new UserError(`cache directory does not exist: ${cacheDir}`);
  if (!hasState(dir)) throw new UserError(`${cacheDir} holds no blkfs cache (no ${STATE_FILE})`);
  let store: StateStore;
  try {
    store = StateStore.open(path.join(dir, STATE_FILE), dir);
  } catch (e) {
    if (e instanceof CacheBusyError) throw new UserError(`${cacheDir} is in use by a blkfs mount: run blkfs verify MOUNTPOINT instead`);
    throw e;
  }
  try {
    const id = store.identity();
    if (!id) throw new UserError(`${cacheDir}: the cache was never initialised (nothing to verify)`);
    const ss = id.sectorSize;
    const sectorCount = Math.ceil(id.size / ss);
    const map = store.loadSectorMap(sectorCount);
    const dataPath = path.join(dir, DATA_FILE);
    let fh: fs.promises.FileHandle | undefined;
    try {
      fh = await fs.promises.open(dataPath, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    let report: VerifyReport;
    try {
      const ledger = FixityLedger.open(store.database(), {
        sectorSize: ss,
        size: id.size,
        readData: async (offset, length) => {
          if (!fh) throw new Error('no data file');
          return readUpTo(fh, offset, length);
        },
      });
      report = await ledger.verifyAll(map.extents(), opts.onProgress);
      if (!opts.forgetDamaged || report.damaged.length === 0) return { ...report, cacheDir: dir };
      const dirty: [number, number][] = [];
      for (const d of report.damaged) {
        const a = Math.floor(d.offset / ss);
        const b = Math.ceil((d.offset + d.length) / ss);
        map.set(a, b - a, '?');
        dirty.push([a, b]);
      }
      store.transaction(() => {
        store.persistRuns(map, dirty, store.loadRetryCounts(sectorCount), []);
        for (const [a, b] of dirty) ledger.forget(a, b);
      });
      return { ...report, cacheDir: dir, forgottenBytes: report.damagedBytes };
    } finally {
      await fh?.close();
      if (opts.forgetDamaged) await (await DataFile.open(dataPath, id.size)).close(); // recreate / re-extend (holes)
    }
  } finally {
    store.close();
  }
}

export function describeDamage(d: DamagedRange): string {
  const why = { missing: 'missing from the data file', checksum: 'checksum mismatch', unrecorded: 'no checksum recorded (the cache state was altered)' }[d.reason];
  return `bytes ${d.offset}..${d.offset + d.length} (${d.length} bytes): ${why}`;
}
