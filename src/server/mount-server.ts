// The foreground server behind `blkfs mount`: source (nbdkit + NBD client) → cache → views → FUSE, plus the
// control socket. Started directly with -f, or in a detached child by the background mount.
import * as path from 'path';
import { parseSourceArg } from '../source/source-spec';
import { TransientReadError } from '../source/block-source';
import { CacheClosedError } from '../cache/errors';
import { DirectoryView, Node } from '../views/view';
import { ControlConnection, ControlServer } from './control-server';
import { ControlReply, ControlRequest, controlSocketPath, prepareSocketDir } from './control-protocol';
import { checkMountpoint, FuseMount, MountBusyError } from '../fuse/fuse-mount';
import { Log } from './log';
import { MediumOptions, MediumStack, StackOptions } from './medium-stack';
import { loadDat } from '../archive/dat';
import { renderStatus } from '../views/status-view';
import type { HttpServer } from './http-server';
import { readFilesFirst } from './files-first';
import { readMetadataAlongside } from './metadata-alongside';
import type { AcquisitionRunner } from './acquisition-runner';
import { StalledReadWatch } from './stalled-reads';
import { ExportRequests } from './export-requests';
import { checkScope, RescueScope, settledBytesIn } from '../cache/rescue-scope';
import { UserError } from '../errors';
import { requestSizeNote } from '../fuse/request-size';
import { cpuPlacementNote, hugePageNote, keepPreloadsFromChildren } from '../fuse/server-preloads';

export { stableIdentityOf } from './medium-stack';

export interface MountServerOptions extends MediumOptions {
  source: string;
  /** Background server: move the log to the cache dir once it is known. */
  logToCacheDir?: boolean;
  /** Serve the web page on this address (--http). */
  http?: { host: string; port: number };
  /** --dat: a Logiqx DAT whose entries the complete image is checked against. */
  datFile?: string;
  /** --allow-other: other users may read the mount (see FuseMountOptions.allowOther). */
  allowOther?: boolean;
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

/** The mount root: the views of the medium being served now (replaced when the drive gets another disc). */
class CurrentMediumRoot implements DirectoryView {
  readonly kind = 'directory';
  constructor(public stack: MediumStack) {}
  entries(): ReadonlyMap<string, Node> {
    return this.stack.root.entries();
  }
}

export class MountServer {
  private stopping: Promise<void> | undefined;
  private resolveExit!: (code: number) => void;
  /** Resolves with the process exit code once the server has shut down. */
  readonly exited = new Promise<number>((r) => (this.resolveExit = r));
  private switching: Promise<void> | undefined;
  private readonly exports: ExportRequests;

  private constructor(
    readonly info: ReadyInfo,
    private readonly log: Log,
    private readonly root: CurrentMediumRoot,
    private readonly stackOptions: StackOptions,
    private readonly fuse: FuseMount,
    private readonly control: ControlServer,
    private readonly http: HttpServer | undefined,
  ) {
    this.exports = new ExportRequests(log);
  }

  private get stack(): MediumStack {
    return this.root.stack;
  }

  private get cache() {
    return this.root.stack.cache;
  }

  /** Starts everything; on failure undoes what was started and rethrows (the caller maps it to an exit code). */
  static async start(opts: MountServerOptions): Promise<MountServer> {
    const { log } = opts;
    const requestSize = requestSizeNote();
    const cpuPlacement = cpuPlacementNote();
    const hugePages = hugePageNote();
    keepPreloadsFromChildren(); // before nbdkit starts
    const spec = parseSourceArg(opts.source);
    const mountpoint = checkMountpoint(opts.mountpoint);
    const undo: Array<() => Promise<unknown>> = [];
    let server: MountServer | undefined;
    try {
      const controlSocket = controlSocketPath(process.pid, opts.cacheDir);
      const stackOptions: StackOptions = {
        spec,
        sourceArg: opts.source,
        mountpoint,
        cacheDir: opts.cacheDir,
        blockSize: opts.blockSize,
        retries: opts.retries,
        readaheadBytes: opts.readaheadBytes,
        nbdkitFilters: opts.nbdkitFilters,
        nbdkitArgs: opts.nbdkitArgs,
        archive: opts.archive,
        slowReadMs: opts.slowReadMs,
        dat: opts.datFile !== undefined ? loadDat(opts.datFile) : undefined,
        controlSocket,
        log,
        onOtherMedium: (old) => void server?.followDrive(old),
      };
      const stack = await MediumStack.open(stackOptions);
      undo.push(() => stack.close(async (_w, fn) => void (await fn())));
      const cache = stack.cache;
      if (opts.logToCacheDir) log.toFile(path.join(cache.cacheDir, 'mount.log'));
      stack.server.log = log.file ?? null;
      log.info(`serving ${opts.source} (${cache.size} bytes, ${cache.sectorSize}-byte sectors) on ${mountpoint}, cache ${cache.cacheDir}`);
      log.info(requestSize);
      log.info(cpuPlacement);
      log.info(hugePages);
      const root = new CurrentMediumRoot(stack);
      const info: ReadyInfo = {
        pid: process.pid,
        mountpoint,
        cacheDir: cache.cacheDir,
        controlSocket,
        size: cache.size,
        sectorSize: cache.sectorSize,
      };
      // The web page shows whichever medium is being served now (the root follows the drive).
      let http: HttpServer | undefined;
      if (opts.http) {
        const { HttpServer } = await import('./http-server');
        const now = () => root.stack;
        http = await HttpServer.listen(opts.http, {
          root,
          statusText: () => renderStatus(now().cache, now().server),
          stateKey: () => now().stateKey(),
          mapPng: () => now().mapStatus.png(),
          mapSvg: () => now().mapStatus.svg(),
          badAreas: (n) => now().mapStatus.badAreas(n),
          log,
        }, { allowOther: opts.allowOther });
        undo.unshift(() => http!.close());
        stackOptions.http = http.url;
        stack.server.http = http.url;
        info.http = http.url;
      }

      prepareSocketDir(controlSocket);
      const control = await ControlServer.listen(
        controlSocket,
        (req, conn) => {
          if (!server) throw new Error('server is starting');
          return server.handle(req, conn);
        },
        (err) => log.error('control request failed', err),
      );
      undo.unshift(() => control.close());
      const fuse = await FuseMount.mount(mountpoint, root, {
        allowOther: opts.allowOther,
        // A server's passing failure is logged once by the source (logged-block-source.ts), not once per read.
        logError: (op, p, err) => {
          // A file opened on the previous medium gets ENOMEDIUM on every read: the change itself is logged once.
          if (!(err instanceof TransientReadError) && !(err instanceof CacheClosedError)) log.error(`${op} ${p}`, err);
        },
      });
      server = new MountServer(info, log, root, stackOptions, fuse, control, http);
      fuse.onExternalUnmount(() => {
        log.info(`${mountpoint} was unmounted from outside`);
        void server!.shutdown('external unmount');
      });
      return server;
    } catch (err) {
      for (const step of undo) await step().catch((e: unknown) => log.error('cleanup after failed start', e));
      throw err;
    }
  }

  /**
   * Follow the drive: another medium was identified where `old`'s was. Its cache is opened (found among the
   * per-medium caches, or created), the mount root switches to it, and `old` is closed (its cache kept intact).
   * Until the new stack is ready, `old` refuses every read: its cache was retired at the verdict (medium-follower.ts).
   */
  private followDrive(old: MediumStack): Promise<void> {
    const run = async () => {
      if (this.stopping || this.stack !== old) return;
      let next: MediumStack;
      try {
        next = await MediumStack.open(this.stackOptions);
      } catch (err) {
        this.log.error('medium: cannot open the new medium (still refusing reads; will retry when the drive changes)', err);
        old.follower.resume();
        return;
      }
      if (this.stopping) {
        await next.close(async (_w, fn) => void (await fn().catch(() => undefined)));
        return;
      }
      next.server.log = this.log.file ?? null;
      this.root.stack = next;
      this.info.cacheDir = next.cache.cacheDir;
      this.log.info(`medium: now serving ${next.cache.size} bytes from cache ${next.cache.cacheDir}`);
      await old.close(async (what, fn) => {
        try {
          await fn();
        } catch (err) {
          this.log.error(`closing the previous medium: ${what} failed`, err);
        }
      });
    };
    this.switching = (this.switching ?? Promise.resolve()).then(run, run);
    return this.switching;
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
    this.stopping ??= this.unmountWatch.during(() => this.doShutdown(reason, exitCode));
    return this.stopping;
  }

  /** Unmounting never waits forever for a read the source does not answer. */
  private readonly unmountWatch = new StalledReadWatch(() => this.stack.source, 'unmounting', (m) => this.log.error(m));

  /** `blkfs umount` clients waiting for the outcome: answered before the process exits. */
  private readonly shutdownWaiters: ControlConnection[] = [];

  private async doShutdown(reason: string, exitCode: number): Promise<void> {
    let code = exitCode;
    /** The first step that failed, with its reason: the umount client says it, not only the log. */
    let failed: string | undefined;
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        code = 2;
        failed ??= `${what}: ${err instanceof Error ? err.message : String(err)}`;
        this.log.error(`shutdown: ${what} failed`, err);
      }
    };
    this.log.info(`shutting down (${reason})`);
    await step('stop the file layout reader', () => this.stack.files.stopLayoutReader());
    await step('unmount', () => this.fuse.unmount());
    if (this.http) await step('stop web page', () => this.http!.close());
    await this.switching?.catch(() => undefined);
    await this.stack.close(step);
    await step('close control socket', () => this.control.close());
    this.log.info(`stopped (exit ${code})`);
    // The umount client exits 2 when the final flush (or any other step) failed: tell it before the process ends.
    const reply: ControlReply =
      code === 0
        ? { type: 'done' }
        : { type: 'error', message: `shutdown failed${failed ? ` (${failed})` : ''}: the cache state may not be fully saved (see the mount log${this.log.file ? ` ${this.log.file}` : ''})`, exitCode: 2 };
    const timeout = new Promise((r) => setTimeout(r, 1000).unref());
    await Promise.race([Promise.all(this.shutdownWaiters.map((c) => c.finish(reply))), timeout]);
    this.resolveExit(code);
  }

  private async handle(req: ControlRequest, conn: ControlConnection): Promise<void> {
    switch (req.cmd) {
      case 'shutdown':
        if (!req.lazy && !this.stopping) {
          try {
            await this.unmountWatch.during(async () => {
              await this.stack.files.stopLayoutReader(); // our TSK on /raw is no user
              await this.fuse.unmountIfIdle();
            });
          } catch (err) {
            if (!(err instanceof MountBusyError)) throw err;
            this.unmountWatch.reset();
            conn.send({ type: 'error', message: err.message, exitCode: 1 });
            return;
          }
        }
        this.shutdownWaiters.push(conn); // answered by doShutdown, just before the process exits
        await this.shutdown('blkfs umount');
        return;
      case 'acquire': {
        const scope = checkScope(req.scope ?? {}, this.cache);
        // Reading the metadata (or files) would read outside the domain: a domain reads only itself.
        if (scope.domain && req.files?.length) throw new UserError('--files cannot be combined with -i/-s: the files may lie outside the domain');
        this.stack.acquisition.check(scope); // refused before the metadata phase, not after it
        // Once the client cancels or leaves, stopping never waits forever for a read the source does not answer.
        const watch = new StalledReadWatch(() => this.stack.source, 'stopping the acquisition', (m) => this.log.error(m));
        let release: (() => void) | undefined;
        const windDown = () => (release ??= watch.hold());
        conn.onRequest((r) => r.cmd === 'cancel' && windDown());
        void conn.closed.then(windDown);
        try {
          if (req.files?.length) {
            // The filesystem metadata is read in The Sleuth Kit's order, without readahead pulling file data in first.
            const resume = this.cache.yieldToReaders();
            try {
              if (!(await readFilesFirst(this.stack.files, req.files, conn))) return;
            } finally {
              resume();
            }
          }
          await this.acquire(conn, scope, !scope.domain && !req.files?.length);
          this.readLayoutIfAllTried();
          return;
        } finally {
          windDown()(); // released (and never started again by a later close)
        }
      }
      case 'archive':
        if (this.stopping) throw new Error('the server is shutting down');
        return this.stack.archives.serve(req, conn);
      case 'export':
        if (!path.isAbsolute(req.image) || !path.isAbsolute(req.mapfile)) throw new Error('export paths must be absolute');
        return this.exports.serve(req, conn, this.stack);
      case 'verify': {
        const cache = this.cache;
        let last = 0;
        const result = await cache.verifyFixity((done, total) => {
          if (Date.now() - last < PROGRESS_INTERVAL_MS && done < total) return;
          last = Date.now();
          conn.send({ type: 'progress', bytesDone: done, bytesTotal: total });
        });
        if (result.damaged.length > 0) this.log.error(`verify: ${result.damagedBytes} damaged bytes in ${cache.cacheDir}: ${JSON.stringify(result.damaged)}`);
        else this.log.info(`verify: ${result.checkedBytes} bytes clean`);
        conn.send({ type: 'done', result });
        return;
      }
      default:
        conn.send({ type: 'error', message: `unknown control request ${JSON.stringify(req)}`, exitCode: 1 });
    }
  }

  /**
   * The layout not read (its reading stopped over the metadata phase's budget): once every sector has been tried,
   * TSK reads it from the cache alone (bad sectors answer EIO at once, retries being spent), so start it now.
   */
  private readLayoutIfAllTried(): void {
    if (this.stopping) return;
    const s = this.cache.status();
    if (s.bytesUntried + s.bytesNonTrimmed + s.bytesNonScraped > 0) return; // TSK would read the device: when asked
    if (this.stack.files.status().files.layout === 'not read') void this.stack.files.ensureLayout();
  }

  /** Runs (or joins) the acquisition; with `metadataAlongside`, The Sleuth Kit reads the layout meanwhile. */
  private async acquire(conn: ControlConnection, scope: RescueScope, metadataAlongside: boolean): Promise<void> {
    if (this.stopping) {
      // Unmounted while the files were read first (or just before): the client says the mount went away.
      conn.send({ type: 'done', result: { aborted: true } });
      return;
    }
    // TSK's process starts while the passes begin; its reads through /raw then go ahead of theirs (foreground).
    const metadata = metadataAlongside ? this.readMetadataAlongside(conn, scope) : undefined;
    let joined: ReturnType<AcquisitionRunner['join']>;
    try {
      joined = this.stack.acquisition.join(scope);
    } catch (err) {
      await metadata?.stop();
      throw err;
    }
    const { result, detach } = joined;
    conn.onRequest((r) => r.cmd === 'cancel' && detach());
    void conn.closed.then(detach);
    const domain = scope.domain;
    const progress = () => {
      const s = this.cache.status();
      conn.send({
        type: 'progress',
        // A domain's bar counts the domain: 1 MiB of a 1 TB disk would otherwise never leave 0%.
        bytesDone: domain ? settledBytesIn(this.cache.extents(), s.sectorSize, domain) : s.bytesCached + s.bytesBad,
        bytesTotal: domain ? domain.end - domain.start : s.size,
        phase: s.phase,
        pass: s.pass,
        currentPos: s.currentPos,
      });
    };
    const timer = setInterval(progress, PROGRESS_INTERVAL_MS);
    try {
      const r = await result;
      // Not done before TSK is: `blkfs files` right after finds the layout read (or its reading stopped, and then
      // started again from the cache alone by readLayoutIfAllTried).
      await metadata?.ended;
      progress();
      conn.send({ type: 'done', result: r });
    } finally {
      clearInterval(timer);
      detach();
      await metadata?.stop(); // the acquisition failed: TSK is not left reading
    }
  }

  /** The metadata phase alongside the passes (metadata-alongside.ts): on a slow device TSK's reads wait behind one of theirs at most. */
  private readMetadataAlongside(conn: ControlConnection, scope: RescueScope): { ended: Promise<void>; stop: () => Promise<void> } {
    const resume = this.cache.yieldToReaders();
    const abort = new AbortController();
    const complete = !scope.noScrape && !scope.noTrim;
    const ended = readMetadataAlongside(this.stack.files, this.cache, conn, { complete, signal: abort.signal }).finally(resume);
    return {
      ended,
      stop: () => {
        abort.abort();
        return ended;
      },
    };
  }
}
