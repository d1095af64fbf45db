// The foreground server behind `blkfs mount`: source (nbdkit + NBD client) → cache → views → FUSE, plus the
// control socket. Started directly with -f, or in a detached child by the background mount.
import * as path from 'path';
import { openBlockSource } from '../source/nbd/nbd-block-source';
import { parseSourceArg } from '../source/source-spec';
import { BlockSource } from '../source/block-source';
import { openCache } from '../cache/cache-open';
import { CachedDevice } from '../cache/cached-device';
import { exportImage } from '../cache/import-export';
import type { ServerInfo } from '../views/status-view';
import { renderStatus } from '../views/status-view';
import { WritableMapfileView } from '../views/writable-mapfile-view';
import { ArchiveViewOptions, createArchiveViews } from '../views/sbx/archive-views';
import { AcquisitionRunner } from './acquisition-runner';
import { ControlConnection, ControlServer } from './control-server';
import { ControlRequest, controlSocketPath } from './control-protocol';
import { checkMountpoint, FuseMount, MountBusyError } from '../fuse/fuse-mount';
import { Log } from './log';
import { buildRoot } from './root-views';
import { liveFileReportFor } from '../files/live-report';
import { readFilesFirst } from './files-first';
import { LoggedBlockSource } from '../source/logged-block-source';
import { MapStatus } from './map-status';
import type { HttpServer } from './http-server';

export interface MountServerOptions {
  source: string;
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
  log: Log;
  /** Background server: move the log to the cache dir once it is known. */
  logToCacheDir?: boolean;
  /** /sbx/image.sbx parameters and --scan. */
  archive?: ArchiveViewOptions;
  /** Serve the web page on this address (--http). */
  http?: { host: string; port: number };
  /** Device reads slower than this (ms) are logged as warnings. */
  slowReadMs?: number;
}

export interface ReadyInfo {
  pid: number;
  mountpoint: string;
  cacheDir: string;
  controlSocket: string;
  size: number;
  sectorSize: number;
  /** The web page's URL (--http). */
  http?: string;
}

const PROGRESS_INTERVAL_MS = 250;

export class MountServer {
  private stopping: Promise<void> | undefined;
  private resolveExit!: (code: number) => void;
  /** Resolves with the process exit code once the server has shut down. */
  readonly exited = new Promise<number>((r) => (this.resolveExit = r));

  private constructor(
    readonly info: ReadyInfo,
    private readonly log: Log,
    private readonly source: BlockSource,
    private readonly cache: CachedDevice,
    private readonly fuse: FuseMount,
    private readonly control: ControlServer,
    private readonly acquisition: AcquisitionRunner,
    private readonly archive: { close(): Promise<void> },
    private readonly http: HttpServer | undefined,
  ) {}

  /** Starts everything; on failure undoes what was started and rethrows (the caller maps it to an exit code). */
  static async start(opts: MountServerOptions): Promise<MountServer> {
    const { log } = opts;
    const spec = parseSourceArg(opts.source);
    const mountpoint = checkMountpoint(opts.mountpoint);
    const undo: Array<() => Promise<unknown>> = [];
    try {
      const device = await openBlockSource(spec, { sectorSize: opts.blockSize, nbdkitFilters: opts.nbdkitFilters, nbdkitArgs: opts.nbdkitArgs });
      undo.push(() => device.close());
      // nbdkit restarts and lost NBD connections go to the mount log as they happen (and into /status's `source`).
      device.onEvent?.((e) => log.info(e.message));
      // Every device error and slow read goes to the mount log too.
      const source = new LoggedBlockSource(device, log, opts.slowReadMs);
      const cache = await openCache({
        cacheDir: opts.cacheDir,
        source,
        retries: opts.retries,
        readaheadBytes: opts.readaheadBytes,
        stableIdentity: stableIdentityOf(source),
      });
      undo.unshift(() => cache.close());
      if (opts.logToCacheDir) log.toFile(path.join(cache.cacheDir, 'mount.log'));
      log.info(`serving ${opts.source} (${cache.size} bytes, ${cache.sectorSize}-byte sectors) on ${mountpoint}, cache ${cache.cacheDir}`);

      const acquisition = new AcquisitionRunner(cache);
      // /sbx/ and /rescued/ keep their tables in the cache DB and may run a background block scanner.
      const archive = createArchiveViews({ ...opts.archive, cache, acquisitions: acquisition, source: opts.source, log: (m) => log.info(m) });
      undo.unshift(() => archive.close());
      const controlSocket = controlSocketPath(process.pid);
      const info: ReadyInfo = {
        pid: process.pid,
        mountpoint,
        cacheDir: cache.cacheDir,
        controlSocket,
        size: cache.size,
        sectorSize: cache.sectorSize,
      };
      const files = liveFileReportFor(cache, mountpoint, (m) => log.info(m));
      const mapStatus = new MapStatus(cache);
      let mapfile: WritableMapfileView | undefined;
      const server: ServerInfo = {
        pid: process.pid,
        controlSocket,
        cacheDir: cache.cacheDir,
        // Absolute: `blkfs export` (from any directory) checks its output is not this file.
        source: spec.kind === 'nbd' ? opts.source : spec.path,
        mountpoint,
        log: log.file ?? null,
        http: null,
        activity: () => ({ acquiring: acquisition.active, driver: mapfile?.driverStatus() ?? null, ...mapStatus.status(), ...archive.status(), ...files.status() }),
      };
      const root = buildRoot({ cache, server, archive, acquisitions: acquisition, log: (m) => log.info(m), logger: log });
      const mapfileNode = root.entries().get('mapfile');
      if (mapfileNode instanceof WritableMapfileView) mapfile = mapfileNode;
      let http: HttpServer | undefined;
      if (opts.http) {
        const { HttpServer } = await import('./http-server');
        http = await HttpServer.listen(opts.http, {
          root,
          statusText: () => renderStatus(cache, server),
          stateKey: () => {
            const s = cache.status();
            return [s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.phase, s.pass, s.currentPos, JSON.stringify(archive.status()), mapfile?.driverStatus()?.updated].join();
          },
          mapPng: () => mapStatus.png(),
          mapSvg: () => mapStatus.svg(),
          badAreas: (n) => mapStatus.badAreas(n),
          log,
        });
        undo.unshift(() => http!.close());
        server.http = http.url;
        info.http = http.url;
      }

      let running: MountServer | undefined;
      const control = await ControlServer.listen(
        controlSocket,
        (req, conn) => {
          if (!running) throw new Error('server is starting');
          return running.handle(req, conn);
        },
        (err) => log.error('control request failed', err),
      );
      undo.unshift(() => control.close());
      const fuse = await FuseMount.mount(mountpoint, root, {
        logError: (op, p, err) => log.error(`${op} ${p}`, err),
      });
      running = new MountServer(info, log, source, cache, fuse, control, acquisition, archive, http);
      fuse.onExternalUnmount(() => {
        log.info(`${mountpoint} was unmounted from outside`);
        void running!.shutdown('external unmount');
      });
      return running;
    } catch (err) {
      for (const step of undo) await step().catch((e: unknown) => log.error('cleanup after failed start', e));
      throw err;
    }
  }

  /** Signals end the server like `blkfs umount`. */
  handleSignals(): void {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        this.log.info(`${sig} received`);
        void this.shutdown(sig);
      });
    }
  }

  /** Unmount, stop any acquisition, flush the state, stop nbdkit. Idempotent. */
  shutdown(reason: string, exitCode = 0): Promise<void> {
    this.stopping ??= this.doShutdown(reason, exitCode);
    return this.stopping;
  }

  private async doShutdown(reason: string, exitCode: number): Promise<void> {
    let code = exitCode;
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        code = 2;
        this.log.error(`shutdown: ${what} failed`, err);
      }
    };
    this.log.info(`shutting down (${reason})`);
    await step('stop the file layout reader', () => liveFileReportFor(this.cache, this.info.mountpoint).stopLayoutReader());
    await step('unmount', () => this.fuse.unmount());
    if (this.http) await step('stop web page', () => this.http!.close());
    await step('stop acquisition', () => this.acquisition.stop());
    await step('stop archive views', () => this.archive.close()); // the block scanner writes to the cache DB
    await step('flush cache', () => this.cache.flush());
    await step('close cache', () => this.cache.close());
    await step('stop source', () => this.source.close());
    await step('close control socket', () => this.control.close());
    this.log.info(`stopped (exit ${code})`);
    this.resolveExit(code);
  }

  private async handle(req: ControlRequest, conn: ControlConnection): Promise<void> {
    switch (req.cmd) {
      case 'shutdown':
        if (!req.lazy && !this.stopping) {
          try {
            await liveFileReportFor(this.cache, this.info.mountpoint).stopLayoutReader(); // our TSK on /raw is no user
            await this.fuse.unmountIfIdle();
          } catch (err) {
            if (!(err instanceof MountBusyError)) throw err;
            conn.send({ type: 'error', message: err.message, exitCode: 1 });
            return;
          }
        }
        await this.shutdown('blkfs umount');
        conn.send({ type: 'done' });
        return;
      case 'acquire': {
        // The filesystem metadata is read in The Sleuth Kit's order, without readahead pulling file data in first.
        const resume = this.cache.suspendReadahead();
        try {
          if (!(await readFilesFirst(liveFileReportFor(this.cache, this.info.mountpoint), req.files, conn))) return;
        } finally {
          resume();
        }
        return this.acquire(conn);
      }
      case 'export': {
        if (!path.isAbsolute(req.image) || !path.isAbsolute(req.mapfile)) throw new Error('export paths must be absolute');
        const result = await exportImage(this.cache, req.image, req.mapfile);
        conn.send({ type: 'done', result });
        return;
      }
      default:
        conn.send({ type: 'error', message: `unknown control request ${JSON.stringify(req)}`, exitCode: 1 });
    }
  }

  private async acquire(conn: ControlConnection): Promise<void> {
    if (this.stopping) {
      // Unmounted while the metadata was read first (or just before): the client says the mount went away.
      conn.send({ type: 'done', result: { aborted: true } });
      return;
    }
    const { result, detach } = this.acquisition.join();
    conn.onRequest((r) => r.cmd === 'cancel' && detach());
    void conn.closed.then(detach);
    const progress = () => {
      const s = this.cache.status();
      conn.send({
        type: 'progress',
        bytesDone: s.bytesCached + s.bytesBad,
        bytesTotal: s.size,
        phase: s.phase,
        pass: s.pass,
        currentPos: s.currentPos,
      });
    };
    const timer = setInterval(progress, PROGRESS_INTERVAL_MS);
    try {
      const r = await result;
      progress();
      conn.send({ type: 'done', result: r });
    } finally {
      clearInterval(timer);
      detach();
    }
  }
}

/** An image file that has not changed (same inode, size and mtime) needs no identity probe on remount. */
export function stableIdentityOf(source: BlockSource): string | undefined {
  const h = source.identityHint;
  return h?.kind === 'file' ? `file:${h.dev}:${h.ino}:${source.size}:${h.mtimeMs}` : undefined;
}
