// `blkfs import IMAGE MAPFILE`: seeds a cache from an existing GNU ddrescue rescue: the '+' areas' bytes, and the
// map's '-', '*', '/' areas, so the cache goes on where ddrescue stopped (src/cache/import-export.ts).
// With --source the medium itself is opened (its default cache, or --cache DIR, is checked against it);
// with --cache DIR alone, an existing cache is seeded without the medium.
import * as path from 'path';
import type { CachedDevice } from '../cache/cached-device';
import type { BlockSource } from '../source/block-source';
import { UserError } from '../errors';
import { mountAction } from './mount-action';
import { requireReadableFile } from './paths';

/** How many of a rescue's sectors `import --source` reads from the medium to compare (spread over the rescue). */
const SAMPLE_SECTORS = 8;

export const runImport = mountAction(async (image: string, mapfile: string, opts: { cache?: string; source?: string; blockSize?: number }) => {
  requireReadableFile(image, 'IMAGE');
  requireReadableFile(mapfile, 'MAPFILE');
  if (!opts.cache && !opts.source) throw new UserError('give --cache DIR (an existing cache) or --source SOURCE (the medium)');
  // Loaded here, not at the top: every blkfs command (sbx … too) would pay for the cache and NBD layers.
  const [{ importRescue }, { guardCacheInputs, guardImageNotMedium, guardSourceOutsideCaches }] = await Promise.all([import('../cache/import-export'), import('./output-guard')]);
  let source: BlockSource | undefined;
  let dev: CachedDevice;
  if (opts.source) {
    guardSourceOutsideCaches(opts.source);
    guardImageNotMedium(image, opts.source);
    try {
      const [{ openBlockSource }, { openCache }, { stableIdentityOf }, { parseSourceArg }] = await Promise.all([
        import('../source/nbd/nbd-block-source'),
        import('../cache/cache-open'),
        import('../server/mount-server'),
        import('../source/source-spec'),
      ]);
      source = await openBlockSource(parseSourceArg(opts.source), { sectorSize: opts.blockSize });
      // A cache made here is told from other media as a mount's is (samples spread over the medium): by its first
      // 64 KiB alone, a disc sharing them (a copy, a multi-disc set) would later be served from this one's bytes.
      dev = await openCache({ source, cacheDir: opts.cache ? path.resolve(opts.cache) : undefined, stableIdentity: stableIdentityOf(source), spreadSamples: true });
    } catch (err) {
      await source?.close();
      const { busyCacheError } = await import('./cache-argument');
      const dir = (err as { cacheDir?: unknown }).cacheDir;
      const named = typeof dir === 'string' ? busyCacheError(err, dir, (m) => `unmount it first (blkfs umount ${m}), then import`) : err;
      throw (await import('./mount-errors')).classifyMountError(named, { startup: true });
    }
  } else {
    const [{ openOffline, recordedMediumOf }, { busyCacheError }] = await Promise.all([import('../cache/cache-open'), import('./cache-argument')]);
    const busy = (err: unknown) => busyCacheError(err, opts.cache!, (m) => `unmount it first (blkfs umount ${m}), then import`);
    // Without --source too: the device the cache's medium was read through is no rescue of it (rule 3).
    let device: string | undefined;
    try {
      device = recordedMediumOf(opts.cache!).device;
    } catch (err) {
      throw busy(err);
    }
    if (device !== undefined) guardImageNotMedium(image, device);
    dev = await openOffline(opts.cache!).catch((err: unknown) => {
      throw busy(err);
    });
  }
  try {
    guardCacheInputs(dev.cacheDir, [image, mapfile]);
    // With the medium: a few of the rescue's sectors are read from it too, so a rescue of another disc is refused
    // even where it lacks the medium's start (which the cache compares it with otherwise).
    const r = await importRescue(dev, path.resolve(image), path.resolve(mapfile), { sampleSectors: source ? SAMPLE_SECTORS : 0 }).catch((err: Error) => {
      if (err.name === 'MapfileError') throw new UserError(`${mapfile}: ${err.message}`);
      throw err;
    });
    const marked = [
      [r.bytesMarkedBad, "bad ('-')"],
      [r.bytesMarkedNonTrimmed, "non-trimmed ('*')"],
      [r.bytesMarkedNonScraped, "non-scraped ('/')"],
    ].filter(([n]) => n !== 0);
    process.stdout.write(
      `imported ${r.bytesImported} bytes into ${dev.cacheDir}` +
        ` (${r.bytesAlreadyCached} already cached` +
        (r.bytesPartialSectors ? `, ${r.bytesPartialSectors} bytes in partial sectors skipped` : '') +
        ')' +
        (marked.length ? `; marked as ddrescue left them: ${marked.map(([n, what]) => `${n} bytes ${what}`).join(', ')}` : '') +
        (r.sectorsSampled ? `; ${r.sectorsSampled} sector${r.sectorsSampled === 1 ? '' : 's'} read from the medium agreed with it` : '') +
        '\n',
    );
  } finally {
    await dev.close().catch(() => undefined);
    await source?.close();
  }
});
