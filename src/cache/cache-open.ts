// Opening a cache: finding (or creating) the cache directory of the medium in hand, loading its state, and making
// sure it is the same medium (identity.ts says why and how). openOffline opens a cache with no medium attached.
import * as fs from 'fs';
import * as path from 'path';
import { BlockSource } from '../source/block-source';
import { OfflineSource } from '../source/offline-source';
import { UserError } from '../errors';
import { DATA_FILE, IDENTITY_HINT_FILE, IdentityHint, STATE_FILE, candidateCaches, cacheDirName, defaultCacheRoot, freshDir, hasState, parseIdentityHint, readIdentityHint, storedIdentity, writeIdentityHint } from './cache-dir';
import { CachedDevice } from './cached-device';
import { CachedDeviceOptions, checkReadahead } from './cached-device-options';
import { DataFile } from './data-file';
import { DeviceReader } from './device-reader';
import { CacheMismatchError } from './errors';
import { RunLengthMap, SectorMap } from './extent-map';
import { IdentityProbe, chooseProbeSectors, fingerprintOf } from './identity';
import { ProbeReader, readWindow, verifyProbe } from './identity-probe';
import { SectorStore } from './sector-store';
import { StateStore, StoredIdentity } from './state-store';
import { checkDataFileIntact } from './data-file-check';
import { copyIsDamaged } from './stored-copy';
import { readSamples, sectorsToCompare, spreadSampleSectors } from './medium-identity';
import { createPrivateFile, ensurePrivateDir, tightenCacheDir } from './private-files';

export interface OpenCacheOptions extends CachedDeviceOptions {
  source: BlockSource;
}

/**
 * Opens the cache of the medium behind `opts.source` (its own directory, or `opts.cacheDir`), creating it if needed.
 * A source that can also be read in a sector size an earlier blkfs chose for it (source.sectorSizeChoice) is
 * switched to that size when this medium's existing cache is in it: a new cache would read the medium again.
 */
export async function openCache(opts: OpenCacheOptions): Promise<CachedDevice> {
  const src = opts.source;
  if (!Number.isSafeInteger(src.size) || src.size < 0) throw new RangeError(`bad medium size ${src.size}`);
  if (!Number.isInteger(src.sectorSize) || src.sectorSize <= 0) throw new RangeError(`bad sector size ${src.sectorSize}`);
  checkReadahead(opts.readaheadBytes);
  const dir = opts.cacheDir === undefined ? undefined : path.resolve(opts.cacheDir);
  // The cache given is checked to be this medium's (openExisting) in the size it was made in.
  if (dir !== undefined && hasState(dir)) keepEarlierSectorSize(src, readHint(dir));
  const detected = src.sectorSize;
  const device = new DeviceReader(src, opts.concurrency ?? 4);
  try {
    const prober = new ProbeReader(device);
    if (dir !== undefined) {
      if (hasState(dir)) return await openExisting(dir, opts, device, prober);
      checkNewCacheDir(dir);
      return await create(dir, undefined, opts, device, prober);
    }
    const root = path.resolve(opts.cacheRoot ?? defaultCacheRoot());
    const mine = await findCache(root, src, prober);
    if (mine !== undefined) return await openExisting(mine, opts, device, prober, true);
    const choice = src.sectorSizeChoice;
    for (const earlier of choice?.earlier ?? []) {
      choice?.use(earlier);
      const other = new DeviceReader(src, opts.concurrency ?? 4);
      try {
        const otherProber = new ProbeReader(other);
        const found = await findCache(root, src, otherProber);
        if (found !== undefined) {
          device.detach();
          return await openExisting(found, opts, other, otherProber, true);
        }
      } catch (e) {
        other.detach();
        throw e;
      }
      other.detach();
    }
    if (src.sectorSize !== detected) choice?.use(detected);
    return await create(undefined, root, opts, device, prober);
  } catch (e) {
    device.detach();
    throw e;
  }
}

/** The cache under root (of the source's size and sector size) whose probe sectors match the medium, if any. */
async function findCache(root: string, src: BlockSource, prober: ProbeReader): Promise<string | undefined> {
  for (const cand of candidateCaches(root, src.size, src.sectorSize)) {
    if (cand.hint.probeSectors.length === 0) continue;
    if (!fs.existsSync(path.join(cand.dir, DATA_FILE))) {
      // Its rescued bytes are gone: it cannot be recognised (nor served). Say so; `blkfs verify --cache` tells more.
      process.emitWarning(`cache ${cand.dir} has no ${DATA_FILE}: skipped (blkfs verify --cache ${cand.dir} says what is lost)`);
      continue;
    }
    const copy = { db: path.join(cand.dir, STATE_FILE), dataPath: path.join(cand.dir, DATA_FILE), sectorSize: src.sectorSize, size: src.size };
    const verdict = await verifyProbe(cand.hint.probeSectors, (s) => readCachedSector(cand.dir, src, s), prober, (s) => copyIsDamaged(copy, s));
    if (verdict.result === 'match') return cand.dir;
  }
  return undefined;
}

/** A cache of this medium's size made in one of the source's earlier sector sizes is opened in that size. */
function keepEarlierSectorSize(src: BlockSource, hint: IdentityHint | undefined): void {
  if (hint === undefined || hint.size !== src.size || hint.sectorSize === src.sectorSize) return;
  if (src.sectorSizeChoice?.earlier.includes(hint.sectorSize)) src.sectorSizeChoice.use(hint.sectorSize);
}

/** A cache directory's identity hint, or undefined when it has none that can be read (its state still decides). */
function readHint(dir: string): IdentityHint | undefined {
  try {
    return parseIdentityHint(fs.readFileSync(path.join(dir, IDENTITY_HINT_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

/** A hint lost or damaged (see readIdentityHint) is written again from the database; best effort (a read-only cache). */
function repairHint(dir: string, id: StoredIdentity): void {
  const hint = readHint(dir);
  if (hint && hint.size === id.size && hint.sectorSize === id.sectorSize && hint.fingerprint === id.fingerprint) return;
  try {
    writeIdentityHint(dir, { size: id.size, sectorSize: id.sectorSize, fingerprint: id.fingerprint, probeSectors: id.probeSectors });
  } catch {
    // cannot write here: readIdentityHint still finds it through its database
    fs.rmSync(path.join(dir, `${IDENTITY_HINT_FILE}.tmp`), { force: true });
  }
}

/**
 * A directory given for a new cache (no state in it yet) must be a directory, or not exist yet, and hold none of
 * the files a cache creates: someone's own `data.img` there would be truncated to the medium's size and overwritten.
 */
function checkNewCacheDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserError(`cannot use ${dir} as a cache directory: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new UserError(`cache ${dir} is not a directory`);
  for (const name of [DATA_FILE, IDENTITY_HINT_FILE]) {
    if (fs.existsSync(path.join(dir, name))) {
      throw new UserError(`${dir} is not a blkfs cache, yet it holds a file "${name}" that a new cache would overwrite: give a new or empty directory`);
    }
  }
}

/**
 * Opens an existing cache directory with no medium attached (`blkfs import|export --cache DIR`): only cached sectors
 * can be read, never the device; the identity check reads the cache's own probe sectors (see OfflineSource).
 */
export async function openOffline(cacheDir: string): Promise<CachedDevice> {
  const dir = path.resolve(cacheDir);
  if (!fs.existsSync(dir)) throw new UserError(`cache directory does not exist: ${cacheDir}`);
  if (!hasState(dir)) throw new UserError(`${cacheDir} holds no blkfs cache`);
  // The database's own identity first: a damaged identity.json (another size, other probe sectors) would make the
  // cache look like another medium's, or ask the absent medium for sectors ("not connected").
  const hint = storedIdentity(dir) ?? readIdentityHint(dir);
  if (!hint) throw new UserError(`${cacheDir}: cannot read the cache's identity (neither its ${IDENTITY_HINT_FILE} nor its database; is it in use?)`);
  return openCache({ cacheDir: dir, source: new OfflineSource(path.join(dir, DATA_FILE), hint.size, hint.sectorSize, hint.probeSectors) });
}

/** The setting naming the block device (its real path) a cache's medium was last read through. */
const MEDIUM_DEVICE_KEY = 'medium.device';

/** Where a cache's medium was last read from, as far as the cache knows: an image file, or a block device. */
export interface RecordedMedium {
  /** The image file (device and inode), from the stable identity. */
  file?: { dev: number; ino: number };
  /** The block device's real path (/dev/sr0, /dev/loop3): its number may name another drive after a reboot. */
  device?: string;
}

/**
 * Where the cache's medium was last read from (nothing for an NBD medium). Lets `export --cache` refuse to write
 * the medium itself, and `import --cache` to read it as a rescue, while nothing serves it.
 */
export function recordedMediumOf(cacheDir: string): RecordedMedium {
  const dir = path.resolve(cacheDir);
  if (!hasState(dir)) return {};
  const state = StateStore.open(path.join(dir, STATE_FILE), dir);
  try {
    const m = /^file:(\d+):(\d+):/.exec(state.identity()?.stableIdentity ?? '');
    return { file: m ? { dev: Number(m[1]), ino: Number(m[2]) } : undefined, device: state.getSetting(MEDIUM_DEVICE_KEY) };
  } finally {
    state.close();
  }
}

/** Records the block device the medium is read through, when it is one (see recordedMediumOf). */
function recordMediumDevice(state: StateStore, src: BlockSource): void {
  const h = src.identityHint;
  if (h?.kind === 'device' && state.getSetting(MEDIUM_DEVICE_KEY) !== h.realPath) state.setSetting(MEDIUM_DEVICE_KEY, h.realPath);
}

async function openExisting(dir: string, opts: OpenCacheOptions, device: DeviceReader, prober: ProbeReader, alreadyVerified = false): Promise<CachedDevice> {
  const src = opts.source;
  tightenCacheDir(dir);
  const state = StateStore.open(path.join(dir, STATE_FILE), dir);
  let data: DataFile | undefined;
  try {
    const id = state.identity();
    if (!id) {
      // Created but never initialized (crash during creation): it holds nothing that was recorded as read.
      state.close();
      // Without the medium it cannot be created again (that reads the medium): say so, not "not connected" (exit 2).
      if (src instanceof OfflineSource) throw new UserError(`${dir}: the cache was never initialised (nothing was recorded in it): open it with its medium (--source, or blkfs mount)`);
      return create(dir, undefined, opts, device, prober);
    }
    repairHint(dir, id);
    if (id.size !== src.size || id.sectorSize !== src.sectorSize) {
      throw new CacheMismatchError(
        dir,
        `it holds a medium of ${id.size} bytes in ${id.sectorSize}-byte sectors, this one has ${src.size} bytes in ${src.sectorSize}-byte sectors`,
      );
    }
    const sectorCount = Math.ceil(src.size / src.sectorSize);
    const map = state.loadSectorMap(sectorCount);
    const tries = state.loadRetryCounts(sectorCount);
    checkDataFileIntact(dir, path.join(dir, DATA_FILE), map, src.sectorSize, src.size);
    data = await DataFile.open(path.join(dir, DATA_FILE), src.size);
    const dataFile = data;
    let probe: IdentityProbe;
    if (alreadyVerified) {
      probe = { method: 'probe', sectors: prober.sectors, bytes: prober.bytes };
    } else if (opts.stableIdentity !== undefined && id.stableIdentity === opts.stableIdentity) {
      probe = { method: 'stable-identity', sectors: 0, bytes: 0 };
    } else {
      // Only a '+' probe sector has a cached copy to compare: one forgotten as damaged (verify --forget-damaged) still
      // holds the damaged bytes or a hole in the data file, which would call the right medium another one.
      // None (the window was unreadable at creation, or forgotten): any cached sectors (none: nothing to protect).
      const sectors = sectorsToCompare(id.probeSectors, (s) => map.statusAt(s), map.extents(), src.sectorSize);
      const verdict = await verifyProbe(
        sectors,
        (s) => dataFile.read(s * src.sectorSize, Math.min(src.sectorSize, src.size - s * src.sectorSize)),
        prober,
        (s) => copyIsDamaged({ db: state.database(), dataPath: dataFile.path, sectorSize: src.sectorSize, size: src.size }, s),
      );
      if (verdict.result === 'mismatch') {
        throw new CacheMismatchError(dir, `sector ${verdict.sector} of this medium differs from the cached one`);
      }
      if (verdict.result === 'unverifiable') {
        throw new CacheMismatchError(dir, 'none of its identity sectors can be read from this medium, so it cannot be shown to be the same');
      }
      probe = { method: 'probe', sectors: prober.sectors, bytes: prober.bytes };
    }
    if (opts.stableIdentity !== undefined && opts.stableIdentity !== id.stableIdentity) state.setStableIdentity(opts.stableIdentity);
    recordMediumDevice(state, src);
    const store = new SectorStore(state, dataFile, map, tries, src.size, src.sectorSize, opts.memoryBytes);
    store.fixity.refuseUnrecorded(map.extents());
    return new CachedDevice(dir, device, store, probe, opts);
  } catch (e) {
    await data?.close();
    state.close();
    throw e;
  }
}

/** The '+' sectors' bytes live in the data file: a deleted or shortened one would read back as holes, i.e. zeros. */

/** A new cache: the fingerprint window is read once and becomes the cache's first '+' (or '-') sectors. */
async function create(dir: string | undefined, root: string | undefined, opts: OpenCacheOptions, device: DeviceReader, prober: ProbeReader): Promise<CachedDevice> {
  const src = opts.source;
  const ss = src.sectorSize;
  ensurePrivateDir(dir ?? (root as string)); // a location that cannot hold a cache fails before any device read
  // Sectors the prober read (comparing with other caches of this size) are not read again.
  const known = (s: number) => prober.known(s);
  const window = await readWindow(device, known);
  const fingerprint = fingerprintOf(src.size, ss, window);
  const probeSectors = chooseProbeSectors(window, ss);
  // Samples spread over the whole medium: two discs from one template differ somewhere past the first 64 KiB.
  const samples = opts.spreadSamples ? await readSamples(device, spreadSampleSectors(src.size, ss), known) : new Map<number, Buffer | null>();
  const cacheDir = dir ?? freshDir(root as string, cacheDirName(fingerprint, src.size));
  ensurePrivateDir(cacheDir);
  createPrivateFile(path.join(cacheDir, STATE_FILE)); // SQLite gives its -wal and -shm files the same mode
  createPrivateFile(path.join(cacheDir, DATA_FILE));
  const state = StateStore.open(path.join(cacheDir, STATE_FILE), cacheDir);
  let data: DataFile | undefined;
  try {
    data = await DataFile.open(path.join(cacheDir, DATA_FILE), src.size);
    const sectorCount = Math.ceil(src.size / ss);
    const map = new SectorMap(sectorCount);
    const stored: [number, Buffer][] = [];
    for (let i = 0; i < window.length; i++) {
      const buf = window[i];
      if (buf) {
        await data.write(i * ss, buf);
        stored.push([i, buf]);
      }
      map.set(i, 1, buf ? '+' : '-');
    }
    for (const [s, buf] of samples) {
      if (buf) {
        await data.write(s * ss, buf);
        stored.push([s, buf]);
        probeSectors.push(s);
      }
      map.set(s, 1, buf ? '+' : '-');
    }
    await data.sync();
    const store = new SectorStore(state, data, map, new RunLengthMap<number>(sectorCount, 0), src.size, ss, opts.memoryBytes);
    // The hint first: a crash before the state's commit leaves a cache that is found again and created anew (it
    // recorded nothing), never a committed cache that is not found (a new one would read the whole medium again).
    writeIdentityHint(cacheDir, { size: src.size, sectorSize: ss, fingerprint, probeSectors });
    // The first '+' sectors and their checksums in one transaction (a crash between would leave them unchecked).
    state.transaction(() => {
      state.initialize({ size: src.size, sectorSize: ss, fingerprint, probeSectors, stableIdentity: opts.stableIdentity }, map);
      for (const [s, buf] of stored) store.fixity.record(s, 1, buf);
      recordMediumDevice(state, src);
    });
    return new CachedDevice(cacheDir, device, store, { method: 'created', sectors: 0, bytes: 0 }, opts);
  } catch (e) {
    await data?.close();
    state.close();
    throw e;
  }
}

/** One cached sector of a cache directory not opened yet (for probing candidates by their hint). */
async function readCachedSector(dir: string, src: BlockSource, s: number): Promise<Buffer> {
  const fh = await fs.promises.open(path.join(dir, DATA_FILE), 'r');
  try {
    const len = Math.min(src.sectorSize, src.size - s * src.sectorSize);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, s * src.sectorSize);
    return buf;
  } finally {
    await fh.close();
  }
}
