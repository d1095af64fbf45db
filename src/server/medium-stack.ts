// Everything the mount serves for ONE medium: its guarded source, its cache, its views. When the drive gets
// another disc and caches follow the drive, the server builds a new stack for it and retires this one: one
// cache never sees another medium's bytes.
import { openBlockSource } from '../source/nbd/nbd-block-source';
import { SourceSpec } from '../source/source-spec';
import { BlockSource } from '../source/block-source';
import { GuardedSource, mediumLooker } from '../source/medium-watch';
import { dropPageCache } from '../source/page-cache';
import { openCache } from '../cache/cache-open';
import { CachedDevice } from '../cache/cached-device';
import type { ServerInfo } from '../views/status-view';
import { StaticDirectory } from '../views/view';
import { buildRoot } from './root-views';
import { ArchiveViewOptions, createArchiveViews } from '../views/sbx/archive-views';
import { AcquisitionRunner } from './acquisition-runner';
import { MediumFollower } from './medium-follower';
import { Log } from './log';
import { LoggedBlockSource } from '../source/logged-block-source';
import { WritableMapfileView } from '../views/writable-mapfile-view';
import { MapStatus } from './map-status';
import { LiveFileReport, liveFileReportFor } from '../files/live-report';
import { ArchiveSessions } from './archive-sessions';
import type { Dat } from '../archive/dat';
import { DEFAULT_IMAGE_PARAMS } from '../views/sbx/image-params';
import { UserError } from '../errors';

/** What the mount's options say about reading a medium, shared by the server (MountServerOptions) and each stack. */
export interface MediumOptions {
  mountpoint: string;
  cacheDir?: string;
  blockSize?: number;
  retries?: number;
  /** Sequential prefetch window (0: read only what readers ask for). */
  readaheadBytes?: number;
  /** nbdkit filters (name, outermost first) put in front of the plugin for device and file sources. */
  nbdkitFilters?: string[];
  /** key=value parameters for those filters. */
  nbdkitArgs?: string[];
  /** /sbx/image.sbx parameters and --scan. */
  archive?: ArchiveViewOptions;
  /** Device reads slower than this (ms) are logged as warnings. */
  slowReadMs?: number;
  log: Log;
}

export interface StackOptions extends MediumOptions {
  spec: SourceSpec;
  /** The SOURCE argument as given (for messages and the SBX file name). */
  sourceArg: string;
  /** mount --dat: the complete image is checked against its entries (/checksums, /status). */
  dat?: Dat;
  /** The web page's URL, once it listens (--http). */
  http?: string;
  controlSocket: string;
  /** Medium poll interval (default 1 s). */
  watchIntervalMs?: number;
  /** Another medium was identified in the drive and caches follow the drive: the server replaces this stack. */
  onOtherMedium: (stack: MediumStack) => void;
}

export class MediumStack {
  private constructor(
    readonly source: GuardedSource,
    readonly cache: CachedDevice,
    readonly acquisition: AcquisitionRunner,
    readonly archive: { close(): Promise<void> },
    readonly root: StaticDirectory,
    readonly follower: MediumFollower,
    /** What /status says about the server (mutable: the log file and web page are known later). */
    readonly server: ServerInfo,
    readonly mapStatus: MapStatus,
    readonly mapfile: WritableMapfileView | undefined,
    private readonly archiveStatus: () => object,
    /** The damaged-files report of this medium (TSK on /raw). */
    readonly files: LiveFileReport,
    /** /checksums, the DAT verdict and the `blkfs archive` clients of this medium. */
    readonly archives: ArchiveSessions,
  ) {}

  /** Changes whenever the web page should refresh (the same fields for every medium, plus which cache it is). */
  stateKey(): string {
    const s = this.cache.status();
    return [s.cacheDir, s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.phase, s.pass, s.currentPos, JSON.stringify(this.archiveStatus()), this.mapfile?.driverStatus()?.updated].join();
  }

  static async open(opts: StackOptions): Promise<MediumStack> {
    const { log } = opts;
    const undo: Array<() => Promise<unknown>> = [];
    try {
      // A block device's page cache may hold a previous disc's bytes (page-cache.ts): openBlockSource drops it, and
      // the guard drops it again before it identifies the disc after a change.
      const device = opts.spec.kind === 'device' ? opts.spec.path : undefined;
      const dropPages = device !== undefined ? () => dropPageCache(device) : undefined;
      const inner = await openBlockSource(opts.spec, { sectorSize: opts.blockSize, nbdkitFilters: opts.nbdkitFilters, nbdkitArgs: opts.nbdkitArgs });
      const name = opts.spec.kind === 'nbd' ? opts.sourceArg : opts.spec.path;
      // Every device error and slow read goes to the mount log; the guard keeps another medium's reads out.
      const source = new GuardedSource(new LoggedBlockSource(inner, log, opts.slowReadMs), mediumLooker(opts.spec), name, dropPages);
      undo.push(() => source.close());
      if (inner.size === 0) throw new UserError(emptyMediumMessage(opts.spec, name));
      // nbdkit restarts and lost NBD connections go to the mount log as they happen (and into /status's `source`).
      inner.onEvent?.((e) => log.info(e.message));
      const detected = source.sectorSize;
      const cache = await openCache({
        cacheDir: opts.cacheDir,
        source,
        retries: opts.retries,
        readaheadBytes: opts.readaheadBytes,
        stableIdentity: stableIdentityOf(inner),
        spreadSamples: true,
        canRepair: () => source.current === 'present',
        onRepair: (m) => log.info(m),
        // Bytes answered to readers (or prefetched, or the acquisition's) were not recorded: said now, not only when
        // the unmount (exit 2) or the acquisition reports it.
        onUnseenFailure: (err) => log.error('cache: bytes read from the medium could not be recorded (their sectors stay untried and are read again when asked)', err),
      });
      undo.unshift(() => cache.close());
      if (cache.sectorSize !== detected) {
        log.info(
          `this medium's cache ${cache.cacheDir} was made in ${cache.sectorSize}-byte sectors: it keeps them (a new cache in ${detected}-byte sectors would read the medium again); ` +
            `the source reads ${detected} bytes at least, so a read of fewer sectors may read their block again`,
        );
      }
      const acquisition = new AcquisitionRunner(cache, (m) => log.info(m));
      // /sbx/ and /rescued/ keep their tables in the cache DB and may run a background block scanner.
      const archive = createArchiveViews({ ...opts.archive, cache, acquisitions: acquisition, source: opts.sourceArg, log: (m) => log.info(m) });
      undo.unshift(() => archive.close());
      const image = { params: opts.archive?.params ?? DEFAULT_IMAGE_PARAMS, identity: archive.identity, available: (await archive.sbx.entries()).has('image.sbx') };
      const archives = new ArchiveSessions(cache, acquisition, opts.dat, image, (m) => log.info(m));
      undo.unshift(() => archives.close());
      const follower = new MediumFollower(source, cache, {
        follow: opts.cacheDir === undefined,
        log,
        onOtherMedium: () => opts.onOtherMedium(stack),
      });
      const files = liveFileReportFor(cache, opts.mountpoint, (m) => log.info(m));
      const mapStatus = new MapStatus(cache, () => acquisition.domain);
      let mapfile: WritableMapfileView | undefined;
      const server: ServerInfo = {
        pid: process.pid,
        controlSocket: opts.controlSocket,
        cacheDir: cache.cacheDir,
        // Absolute: `blkfs export` (from any directory) checks its output is not this file.
        source: opts.spec.kind === 'nbd' ? opts.sourceArg : opts.spec.path,
        mountpoint: opts.mountpoint,
        log: log.file ?? null,
        http: opts.http ?? null,
        activity: () => ({
          acquiring: acquisition.active,
          acquisitionOptions: acquisition.options ?? null,
          driver: mapfile?.driverStatus() ?? null,
          ...mapStatus.status(),
          ...archive.status(),
          ...files.status(),
          ...archives.status(),
          medium: follower.status(),
        }),
      };
      const root = buildRoot({ cache, server, archive, acquisitions: acquisition, checksums: archives, log: (m) => log.info(m), logger: log });
      const mapfileNode = root.entries().get('mapfile');
      if (mapfileNode instanceof WritableMapfileView) mapfile = mapfileNode;
      const stack: MediumStack = new MediumStack(source, cache, acquisition, archive, root, follower, server, mapStatus, mapfile, () => archive.status(), files, archives);
      source.watch(opts.watchIntervalMs ?? 1000);
      follower.start(opts.watchIntervalMs ?? 1000);
      return stack;
    } catch (err) {
      for (const step of undo) await step().catch((e: unknown) => log.error('cleanup after failed start', e));
      throw err;
    }
  }

  /** Stops the follower and acquisition, flushes and closes the cache, stops the source. Collects failures. */
  async close(step: (what: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    this.follower.stop();
    await step('stop the file layout reader', () => this.files.stopLayoutReader());
    await step('stop acquisition', () => this.acquisition.stop());
    await step('stop archive views', () => this.archive.close()); // the block scanner writes to the cache DB
    await step('stop checksums', () => this.archives.close()); // it reads the cache
    await step('flush cache', () => this.cache.flush());
    await step('close cache', () => this.cache.close());
    await step('stop source', () => this.source.close());
  }
}

/** An image file that has not changed (same inode, size and mtime) needs no identity probe on remount. */
export function stableIdentityOf(source: BlockSource): string | undefined {
  const h = source.identityHint;
  return h?.kind === 'file' ? `file:${h.dev}:${h.ino}:${source.size}:${h.mtimeMs}` : undefined;
}

/**
 * A 0-byte medium has nothing to rescue and nothing to recognise it by (every empty medium looks alike), so it
 * is refused rather than given a cache; most often it is a drive with no disc in it.
 */
function emptyMediumMessage(spec: SourceSpec, name: string): string {
  if (spec.kind === 'device') return `${name} is empty (0 bytes): no medium in the drive?`;
  if (spec.kind === 'file') return `${name} is empty (0 bytes): an image file with nothing to rescue`;
  return `the NBD export ${name} is empty (0 bytes): no medium behind it?`;
}
