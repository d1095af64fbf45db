// Seeding a cache from an existing GNU ddrescue rescue, and exporting the cache as one.
import * as fs from 'fs';
import type { CachedDevice } from './cached-device';
import type { Extent } from './extent-map';
import type { Mark } from './cached-device';
import { isMoreDone, sectorStatesOf } from './imported-states';
import { OperationError, UserError } from '../errors';
import { ImportError } from './errors';
import { ChunkDamagedError } from './fixity';
import { hex8, parseMapfile, readMapfileText, renderMapfile } from './mapfile';
import { byteSize } from '../byte-size';
import { partialPath, removeStalePartials } from '../partial-file';
import { bytesLostByReplacing, keepImageMap } from './kept-image-map';
import { subtractRanges } from './byte-ranges';

const CHUNK = 1024 * 1024;

export interface ImportResult {
  /** Bytes newly recorded '+' from the image. */
  bytesImported: number;
  /** '+' bytes of the mapfile that the cache already held (left untouched). */
  bytesAlreadyCached: number;
  /** '+' bytes skipped because they cover only part of a sector (the rest of it is not '+' in the map). */
  bytesPartialSectors: number;
  /** Bytes newly recorded bad ('-'), non-trimmed ('*'), non-scraped ('/') as the map has them (imported-states.ts). */
  bytesMarkedBad: number;
  bytesMarkedNonTrimmed: number;
  bytesMarkedNonScraped: number;
  /** Sectors read from the medium to compare the image with (ImportOptions.sampleSectors), and compared. */
  sectorsSampled: number;
}

export interface ImportOptions {
  /**
   * With the medium at hand: read up to this many of the map's '+' sectors from it first (spread over them, each once:
   * stored as any read is), so that the image is compared with the medium even where the cache held nothing of it yet.
   */
  sampleSectors?: number;
}


/**
 * Imports a ddrescue rescue (IMAGE + MAPFILE), so that the cache goes on where ddrescue stopped. For each '+' sector
 * not cached yet, the image's bytes are written to the data file and made durable before the sector is recorded '+'.
 * The map's '-', '*' and '/' (which carry no bytes) are recorded for sectors the cache has not got further with, all in
 * one transaction before the '+' sectors: a bad sector ddrescue found is then read again only with retries, '*' is
 * trimmed and '/' scraped, as ddrescue resuming from the map would. Nothing is downgraded: a sector the cache holds as
 * '+', or has got further with ('-' over the map's '*'), stays; the map's '?' leaves a sector as the cache has it. A
 * sector whose bytes carry several statuses takes the least done of them (imported-states.ts).
 * A malformed mapfile is a MapfileError naming its line; rescued data past the end of the medium, or an image too
 * short for its map, is an ImportError before anything is recorded. So is an image that disagrees with the cache where
 * both hold bytes: it is a rescue of another medium (or one of the two is damaged), and none of its bytes may be served
 * as this medium's (nor its map's bad areas taken over). Areas of the map beyond the medium that are not '+' are
 * ignored, and a map shorter than the medium leaves the rest as it was.
 */
export async function importRescue(dev: CachedDevice, imagePath: string, mapfilePath: string, opts: ImportOptions = {}): Promise<ImportResult> {
  // Latin-1 keeps every byte as it was: the copy kept as image.map is the user's file, whatever its comments' encoding.
  const mapText = await readMapfileText(mapfilePath, 'latin1');
  const map = parseMapfile(mapText);
  const rescued = map.blocks.filter((b) => b.status === '+');
  const beyond = rescued.find((b) => b.pos + b.size > dev.size);
  if (beyond) {
    throw new ImportError(
      `${mapfilePath}: rescued data goes past the end of the medium (block ${hex8(beyond.pos)} + ${hex8(beyond.size)} ends at ${beyond.pos + beyond.size}, the medium has ${dev.size} bytes)`,
    );
  }
  const imageSize = await byteSize(await fs.promises.stat(imagePath)); // a rescue onto a disk: a device's st_size is 0
  const needed = rescued.reduce((m, b) => Math.max(m, b.pos + b.size), 0);
  if (imageSize < needed) {
    throw new ImportError(`${imagePath} has ${imageSize} bytes, but its mapfile says bytes up to ${needed} were rescued`);
  }
  const ss = dev.sectorSize;
  const states = sectorStatesOf(map.blocks, ss, dev.size);
  const result: ImportResult = { bytesImported: 0, bytesAlreadyCached: 0, bytesPartialSectors: 0, bytesMarkedBad: 0, bytesMarkedNonTrimmed: 0, bytesMarkedNonScraped: 0, sectorsSampled: 0 };
  const fh = await fs.promises.open(imagePath, 'r');
  try {
    // A read may come back short (a failing disk, a network or FUSE file system): the bytes it did not deliver
    // are not the image's, so it is read on, and a failure or an early end stops the import.
    const soFar = () =>
      (result.bytesImported > 0 ? `; the ${result.bytesImported} bytes imported before it are kept` : '; no bytes were imported') +
      (result.bytesMarkedBad + result.bytesMarkedNonTrimmed + result.bytesMarkedNonScraped > 0 ? " (its map's '-', '*', '/' areas are recorded)" : '');
    const readImage = async (off: number, len: number) => {
      const buf = Buffer.alloc(len);
      for (let got = 0; got < len; ) {
        let n: number;
        try {
          n = (await fh.read(buf, got, len - got, off + got)).bytesRead;
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
          throw new OperationError(`${imagePath}: cannot read byte ${off + got} (${why})${soFar()}`, { cause: e });
        }
        if (n === 0) throw new OperationError(`${imagePath} ended at byte ${off + got}, inside data its mapfile calls rescued${soFar()}`);
        got += n;
      }
      return buf;
    };
    const byteOf = (s: number) => Math.min(dev.size, s * ss);
    /** The '+' sectors of the map: all their bytes rescued (the medium's last sector may be partial). */
    const whole = states.filter((r) => r.status === '+').map((r): [number, number] => [r.start, r.start + r.count]);
    // The cache may hold nothing the rescue has (the identity probe reads the medium's start, which a rescue of a
    // scratched disc may lack): then a rescue of another medium would be compared with nothing and served as this one.
    if (opts.sampleSectors) result.sectorsSampled = await sampleMedium(dev, whole, opts.sampleSectors);
    // First the comparison, so that an image of another medium imports nothing at all.
    let differing = 0;
    let firstDiffering: number | undefined;
    for (const [s0, s1] of whole) {
      for (let s = s0; s < s1; ) {
        const run = dev.runAt(s);
        const e = Math.min(s1, run.start + run.count, s + Math.floor(CHUNK / ss));
        if (run.status === '+') {
          const img = await readImage(byteOf(s), byteOf(e) - byteOf(s));
          const have = await dev.readCachedBytes(byteOf(s), byteOf(e) - byteOf(s));
          if (!img.equals(have)) {
            for (let i = 0; i < img.length; i++) {
              if (img[i] === have[i]) continue;
              differing++;
              firstDiffering ??= byteOf(s) + i;
            }
          }
        }
        s = e;
      }
    }
    if (firstDiffering !== undefined) {
      throw new ImportError(
        `${imagePath} differs from the cache in ${differing} byte${differing === 1 ? '' : 's'} its mapfile calls rescued (the first at byte ${firstDiffering}): ` +
          'it is not a rescue of this medium, or one of the two is damaged (blkfs verify checks the cache); nothing was imported',
      );
    }
    // The bad areas first: an import cut short (a crash, an unreadable image) leaves '+' sectors untried, which cost one
    // read each, never ddrescue's bad sectors untried, which a scratched disc makes slow to read again.
    await recordStates(dev, states, result);
    result.bytesPartialSectors = rescued.reduce((n, b) => n + b.size, 0) - whole.reduce((n, [s0, s1]) => n + byteOf(s1) - byteOf(s0), 0);
    for (const [s0, s1] of whole) {
      for (let s = s0; s < s1; ) {
        const run = dev.runAt(s);
        let e = Math.min(s1, run.start + run.count, s + Math.floor(CHUNK / ss));
        if (run.status === '+') {
          result.bytesAlreadyCached += byteOf(e) - byteOf(s);
        } else if (await dev.waitForFlight(s)) {
          continue; // a device read of it just finished; look again
        } else {
          e = Math.min(e, dev.nextFlightAfter(s));
          const [from, len] = [byteOf(s), byteOf(e) - byteOf(s)];
          await dev.storeSectors(s, e - s, () => readImage(from, len));
          result.bytesImported += len;
        }
        s = e;
      }
    }
  } finally {
    await fh.close();
  }
  await keepImageMap(dev, mapText, imagePath);
  return result;
}

/**
 * Reads up to `n` sectors of `runs` (sector ranges) from the medium through the cache, spread evenly over them, skipping
 * those cached already; returns how many it got (a bad sector is skipped: the map's '+' says nothing of the medium now).
 */
async function sampleMedium(dev: CachedDevice, runs: readonly [number, number][], n: number): Promise<number> {
  const total = runs.reduce((t, [s0, s1]) => t + s1 - s0, 0);
  let got = 0;
  for (let k = 0; k < Math.min(n, total); k++) {
    let i = Math.floor(((k + 0.5) * total) / Math.min(n, total));
    const run = runs.find(([s0, s1]) => (i < s1 - s0 ? true : ((i -= s1 - s0), false)))!;
    const s = run[0] + i;
    if (dev.statusAt(s) === '+') continue;
    const offset = s * dev.sectorSize;
    const { data } = await dev.read(offset, Math.min(dev.size, offset + dev.sectorSize) - offset);
    if (data.length > 0) got++;
  }
  await dev.commitPending(); // a reader is answered before the commit: the comparison looks at what is '+'
  return got;
}

/**
 * Records the map's '-', '*', '/' sectors where the cache has not got as far, in one transaction (they carry no bytes):
 * each is recorded from the status the cache has now, so a read that settles a sector meanwhile is never undone.
 */
async function recordStates(dev: CachedDevice, states: readonly Extent[], result: ImportResult): Promise<void> {
  const marks: Mark[] = [];
  for (const st of states) {
    if (st.status === '+' || st.status === '?') continue;
    for (let s = st.start; s < st.start + st.count; ) {
      const run = dev.runAt(s);
      const e = Math.min(st.start + st.count, run.start + run.count);
      if (isMoreDone(st.status, run.status)) {
        marks.push({ start: s, count: e - s, status: st.status, from: run.status });
        const bytes = Math.min(dev.size, e * dev.sectorSize) - s * dev.sectorSize;
        if (st.status === '-') result.bytesMarkedBad += bytes;
        else if (st.status === '*') result.bytesMarkedNonTrimmed += bytes;
        else result.bytesMarkedNonScraped += bytes;
      }
      s = e;
    }
  }
  await dev.markAll(marks);
}

export interface ExportResult {
  bytesWritten: number;
  mapfile: string;
  /** Byte ranges of damaged cache chunks (CRC mismatch, missing): not in the image, '?' in the mapfile. */
  damaged: { offset: number; length: number }[];
}

/**
 * Writes the cache as a ddrescue rescue: a sparse image the size of the medium (holes where not '+') and the
 * mapfile of exactly that state. Reads only the cache, never the device. A regular file (or a new one) is written
 * beside its path, and both are renamed over their paths once both are complete, the image before the mapfile: a
 * failure leaves what was there (an earlier export) whole, never an image cut short beside a mapfile that calls its
 * bytes rescued, nor a new image beside an old mapfile. A device or other special file is written in place.
 *
 * A damaged cache chunk does not stop the export (a rescue is exported as far as it is good): its bytes are not
 * written, its sectors are '?' in the mapfile, so ddrescue resuming from the pair reads them from the medium again.
 * The caller reports `damaged` (the cache needs `blkfs verify --forget-damaged`).
 *
 * `stop` (Ctrl-C in `blkfs export`, its client gone) ends it with its reason until the renames begin: what was
 * staged is removed and the outputs are left as they were (a device written in place keeps what reached it).
 */
export async function exportImage(
  dev: CachedDevice,
  outImage: string,
  outMapfile: string,
  opts: { replace?: boolean; stop?: AbortSignal } = {},
): Promise<ExportResult> {
  const { stop } = opts;
  stop?.throwIfAborted(); // stopped while it waited for its turn
  // One synchronous snapshot: the image and its mapfile describe the same state even while reads continue.
  const extents = dev.extents();
  const snapshotMap = dev.mapfileText();
  const ss = dev.sectorSize;
  let bytesWritten = 0;
  const damaged: { offset: number; length: number }[] = [];
  const writes = extents.filter((r) => r.status === '+').map((r): [number, number] => [r.start * ss, Math.min(dev.size, (r.start + r.count) * ss)]);
  // Over the image last exported or imported, nothing it holds may be lost (checked again once damage is known).
  const lost = async (): Promise<void> => {
    const l = opts.replace ? undefined : await bytesLostByReplacing(dev.cacheDir, outImage, subtractRanges(writes, damaged.map((d) => [d.offset, d.offset + d.length])));
    if (l) {
      throw new UserError(
        `${outImage} holds ${l.bytes} bytes the cache does not (from byte ${l.first}: partial sectors of the rescue imported from it, or cache chunks damaged since): ` +
          'an export over it would lose them. Export to another path, or give --force to replace it anyway',
      );
    }
  };
  await lost();
  const copy = async (fh: fs.promises.FileHandle, off: number, len: number): Promise<void> => {
    let buf: Buffer;
    try {
      buf = await dev.readCachedBytes(off, len);
    } catch (e) {
      const [a, b] = e instanceof ChunkDamagedError ? [Math.max(off, e.offset), Math.min(off + len, e.offset + e.length)] : [0, 0];
      if (b <= a) throw e;
      const last = damaged[damaged.length - 1];
      if (last && last.offset + last.length === a) last.length += b - a;
      else damaged.push({ offset: a, length: b - a });
      if (a > off) await copy(fh, off, a - off);
      if (b < off + len) await copy(fh, b, off + len - b);
      return;
    }
    // A write may write less than asked (a disk filling up): the rest is written on, so the disk's ENOSPC is met,
    // never an image renamed into place with zeros where its mapfile says rescued.
    for (let done = 0; done < len; ) {
      const wrote = await fh.write(buf, done, len - done, off + done).catch((e: unknown) => Promise.reject(outputError(outImage, partialPath(outImage), e)));
      done += wrote.bytesWritten;
    }
    bytesWritten += len;
  };
  // A device is written in place: one too small would lose its contents to an export that cannot fit.
  const target = await fs.promises.stat(outImage).catch(() => undefined);
  if (target?.isBlockDevice() && (await byteSize(target)) < dev.size) {
    throw new UserError(`${outImage} has ${await byteSize(target)} bytes, too few for the medium's ${dev.size}: nothing was written`);
  }
  const image = await stageWhole(outImage, async (fh) => {
    // not a device written in place
    if ((await fh.stat()).isFile()) await fh.truncate(dev.size).catch((e: unknown) => Promise.reject(outputError(outImage, partialPath(outImage), e)));
    for (const [from, to] of writes) {
      for (let off = from; off < to; off += CHUNK) {
        stop?.throwIfAborted(); // stageWhole removes the partial file
        await copy(fh, off, Math.min(CHUNK, to - off));
      }
    }
  });
  /** Stopped between steps: the staged outputs removed, none renamed into place. */
  const unlessStopped = async (...staged: StagedOutput[]): Promise<void> => {
    if (!stop?.aborted) return;
    for (const s of staged) await s.abort();
    throw stop.reason;
  };
  await unlessStopped(image);
  damaged.sort((x, y) => x.offset - y.offset);
  if (damaged.length > 0) await lost().catch(async (e: unknown) => Promise.reject(await image.abort().then(() => e, () => e))); // the refusal, whatever the clean-up says
  const mapfile = damaged.length === 0 ? snapshotMap : mapfileWithout(snapshotMap, extents, damaged, ss, dev.size);
  let map: StagedOutput;
  try {
    map = await stageWhole(outMapfile, (fh) => fh.writeFile(mapfile).catch((e: unknown) => Promise.reject(outputError(outMapfile, partialPath(outMapfile), e))));
  } catch (e) {
    await image.abort(); // an earlier export stays a pair: its image is not replaced beside its old mapfile
    throw e;
  }
  await unlessStopped(image, map); // the last moment a stop leaves both outputs as they were
  // Both are complete: renamed into place, the image first.
  await image.commit().catch(async (e: unknown) => {
    await Promise.all([image.abort(), map.abort()]).catch(() => undefined); // a failed rename leaves no partial file
    throw e;
  });
  await map.commit();
  await keepImageMap(dev, mapfile, outImage);
  return { bytesWritten, mapfile, damaged };
}

/** The snapshot's mapfile with the sectors of the damaged ranges non-tried: ddrescue is to read them again. */
function mapfileWithout(snapshot: string, extents: readonly Extent[], damaged: readonly { offset: number; length: number }[], ss: number, size: number): string {
  const holes = damaged.map((d) => [Math.floor(d.offset / ss), Math.ceil((d.offset + d.length) / ss)] as const);
  const out: Extent[] = [];
  for (const e of extents) {
    let s = e.start;
    const end = e.start + e.count;
    if (e.status === '+') {
      for (const [a, b] of holes) {
        if (b <= s || a >= end) continue;
        if (a > s) out.push({ start: s, count: a - s, status: '+' });
        const until = Math.min(b, end);
        out.push({ start: Math.max(a, s), count: until - Math.max(a, s), status: '?' });
        s = until;
      }
    }
    if (s < end) out.push({ start: s, count: end - s, status: e.status });
  }
  const line = parseMapfile(snapshot);
  const finished = line.phase === '+';
  const bytes = damaged.reduce((n, d) => n + d.length, 0);
  return renderMapfile(out, ss, size, {
    currentPos: finished ? holes[0][0] * ss : line.currentPos,
    phase: finished ? '?' : line.phase,
    pass: line.pass,
    comments: [`Medium: ${size} bytes, sector size ${ss}`, `${bytes} bytes of damaged cache chunks are left non-tried: read them from the medium again`],
  });
}

/** An output written in full beside its path (synced): `commit` renames it over the path, `abort` removes it. */
interface StagedOutput {
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Writes `file` through `write`, durably, into a temporary file beside it (a device or other special file in place). */
async function stageWhole(file: string, write: (fh: fs.promises.FileHandle) => Promise<void>): Promise<StagedOutput> {
  const target = await fs.promises.realpath(file).catch(() => file); // a symlink's target is the output
  const st = await fs.promises.stat(target).catch(() => undefined);
  const inPlace = st !== undefined && !st.isFile();
  const written = inPlace ? target : partialPath(target);
  if (!inPlace) await removeStalePartials(target);
  const fh = await fs.promises.open(written, inPlace ? 'r+' : 'w', st?.mode ?? 0o666).catch((e: unknown) => {
    throw outputError(file, written, e);
  });
  try {
    await write(fh);
    if (!st || st.isFile() || st.isBlockDevice()) await fh.sync().catch((e: unknown) => Promise.reject(outputError(file, written, e))); // /dev/null cannot be synced
  } catch (e) {
    await fh.close();
    if (!inPlace) await fs.promises.rm(written, { force: true });
    throw e;
  }
  await fh.close();
  return {
    commit: async () => {
      if (!inPlace) await fs.promises.rename(written, target).catch((e: unknown) => Promise.reject(outputError(file, written, e)));
    },
    abort: async () => {
      if (!inPlace) await fs.promises.rm(written, { force: true });
    },
  };
}

/**
 * A system error writing an output (a full or read-only disk): a failure of the operation naming the file the user
 * gave, not the one written beside it, nor the cache (its disk is not the one that is full).
 */
function outputError(file: string, written: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof err.code !== 'string' || err.code.startsWith('ERR_')) return e;
  return new OperationError(`cannot write ${file}: ${err.message.split(written).join(file)}`, { cause: e });
}
