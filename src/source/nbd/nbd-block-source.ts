// The BlockSource blkfs mounts: an NBD connection, to an nbdkit we spawn on a device/file or to a
// server named by a URI. A lost source (nbdkit died, connection dropped) is never a bad sector: reads
// fail with SourceLostError and the next read reconnects, restarting nbdkit if we spawned it.
import * as fs from 'fs';
import { BlockSource, MediaError, SectorSizeChoice, SourceEvent, SourceIdentityHint, SourceLostError, SourceStats, TransientReadError } from '../block-source';
import { NbdClient } from './nbd-client';
import { NbdkitProcess } from './nbdkit-process';
import { detectSectorSize, MAX_SECTOR_SIZE } from '../sector-size';
import { dropPageCache } from '../page-cache';
import { nbdTargetUri, SourceArgError, SourceSpec } from '../source-spec';
import { MediumChangedError } from '../medium-watch';

export interface OpenBlockSourceOptions {
  /** --block-size: overrides detection (power of two, 512..65536). */
  sectorSize?: number;
  /** nbdkit filters, outermost first (e.g. ['log', 'ddrescue']). Device/file sources only. */
  nbdkitFilters?: string[];
  /** Extra nbdkit key=value parameters, e.g. for the filters (['ddrescue-mapfile=bad.map']). */
  nbdkitArgs?: string[];
  /** Extra nbdkit server options (e.g. ['--no-sr']). */
  nbdkitServerOptions?: string[];
  /** Back-off between reconnect attempts: doubles from initial up to max (defaults 200 ms, 5 s). */
  reconnectDelayMs?: { initial: number; max: number };
}

/** A reconnect reached a medium of another size: certainly another disc (never adopted); readers get ENOMEDIUM. */
export class MediumSizeChangedError extends MediumChangedError {
  constructor(
    message: string,
    readonly newSize: number,
  ) {
    super(message);
    this.name = 'MediumSizeChangedError';
  }
}

export async function openBlockSource(spec: SourceSpec, options: OpenBlockSourceOptions = {}): Promise<NbdBlockSource> {
  if (spec.kind === 'device') await dropPageCache(spec.path); // it may hold a previous disc's pages (page-cache.ts)
  const sectorSize = await detectSectorSize(spec, options.sectorSize);
  const source = new NbdBlockSource(spec, sectorSize, options);
  await source.open();
  return source;
}

export class NbdBlockSource implements BlockSource {
  private sectorBytes: number;
  /** The size detected (or given): the export's minimum may raise the one used. */
  private readonly detectedBytes: number;
  /** What open() raised the detected size to (the export's minimum block size), if it did. */
  private raisedBytes?: number;
  readonly identityHint: SourceIdentityHint;
  private sizeBytes = 0;
  private client?: NbdClient;
  private server?: NbdkitProcess;
  private connecting?: Promise<NbdClient>;
  private closing?: Promise<void>;
  private failedAttempts = 0;
  private nextAttemptAt = 0;
  private lossReason = '';
  /** The last attempt reached a medium of another size: until the next attempt, every read says so (ENOMEDIUM). */
  private otherSize: MediumSizeChangedError | undefined;
  private readonly counters: Required<SourceStats> = { reads: 0, bytes: 0, failedReads: 0, lostReads: 0, transientReads: 0, reconnects: 0 };
  private readonly listeners = new Set<(event: SourceEvent) => void>();

  constructor(
    private readonly spec: SourceSpec,
    sectorSize: number,
    private readonly options: OpenBlockSourceOptions,
  ) {
    this.sectorBytes = sectorSize;
    this.detectedBytes = sectorSize;
    this.identityHint = identityOf(spec);
  }

  /** The cache's unit: detected from the source (or --block-size), raised at open to an NBD export's minimum block size. */
  get sectorSize(): number {
    return this.sectorBytes;
  }

  /** Raised to the export's minimum block size: a cache made before blkfs did that (aa29f43) is in the size detected. */
  get sectorSizeChoice(): SectorSizeChoice | undefined {
    const raised = this.raisedBytes;
    if (raised === undefined) return undefined;
    return {
      earlier: [this.detectedBytes],
      use: (size) => {
        if (size !== raised && size !== this.detectedBytes) throw new RangeError(`${this.describe()} is not read in ${size}-byte sectors`);
        this.sectorBytes = size;
      },
    };
  }

  get size(): number {
    return this.sizeBytes;
  }

  /** pid of the nbdkit we run for this source (device/file sources), while it runs. */
  get nbdkitPid(): number | undefined {
    return this.server && !this.server.hasExited ? this.server.pid : undefined;
  }

  /** First connection: failures propagate as they are (nbdkit's own message, refused export...). */
  async open(): Promise<void> {
    try {
      const client = await this.connectOnce();
      this.sizeBytes = client.size;
      // A server that cannot read less than its minimum block size widens every smaller read and the extra bytes
      // are lost to us: in 512-byte sectors the cache would read those bytes from the device again (rule 3).
      const min = client.blockSize?.min ?? 0;
      if (this.options.sectorSize === undefined && min > this.sectorBytes && min <= MAX_SECTOR_SIZE && (min & (min - 1)) === 0) {
        this.raisedBytes = min;
        this.sectorBytes = min;
      }
      this.adopt(client);
    } catch (err) {
      await this.server?.stop();
      throw err;
    }
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.readVia(offset, length, (client) => client.read(offset, length));
  }

  readInto(offset: number, target: Buffer): Promise<Buffer> {
    return this.readVia(offset, target.length, (client) => client.readInto(offset, target));
  }

  private async readVia(offset: number, length: number, read: (client: NbdClient) => Promise<Buffer>): Promise<Buffer> {
    if (this.closing) throw new SourceLostError(`${this.describe()} is closed`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read of ${length} bytes at ${offset} is outside the source (size ${this.size})`);
    }
    try {
      const client = await this.connection();
      const data = await read(client);
      this.counters.reads++;
      this.counters.bytes += data.length;
      return data;
    } catch (err) {
      if (err instanceof MediaError) this.counters.failedReads++;
      else if (err instanceof SourceLostError) this.counters.lostReads++;
      else if (err instanceof TransientReadError) this.counters.transientReads++;
      throw err;
    }
  }

  stats(): SourceStats {
    return { ...this.counters };
  }

  onEvent(listener: (event: SourceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hangUpStalled(olderThanMs: number): boolean {
    const waited = this.client?.oldestWaitMs() ?? 0;
    if (waited === 0 || waited < olderThanMs) return false;
    this.client?.abort(`one waited ${(waited / 1000).toFixed(1)} s for the server`);
    return true;
  }

  /** Drains in-flight reads, disconnects cleanly, stops the nbdkit we started. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.connecting?.catch(() => undefined);
      await this.client?.disconnect();
      await this.server?.stop();
    })();
    return this.closing;
  }

  private connection(): Promise<NbdClient> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.reconnect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async reconnect(): Promise<NbdClient> {
    const wait = this.nextAttemptAt - Date.now();
    if (wait > 0) {
      if (this.otherSize) throw this.otherSize;
      throw new SourceLostError(`${this.describe()} is lost (${this.lossReason}); next reconnect attempt in ${(wait / 1000).toFixed(1)} s`);
    }
    try {
      const client = await this.connectOnce();
      if (client.size !== this.size) {
        await client.disconnect();
        throw new MediumSizeChangedError(`it now has ${client.size} bytes instead of ${this.size}: a different medium`, client.size);
      }
      this.failedAttempts = 0;
      this.nextAttemptAt = 0;
      this.otherSize = undefined;
      this.counters.reconnects++;
      this.adopt(client);
      this.emit({ type: 'reconnected', message: `reconnected to ${this.describe()}` });
      return client;
    } catch (err) {
      const { initial, max } = this.options.reconnectDelayMs ?? { initial: 200, max: 5000 };
      this.nextAttemptAt = Date.now() + Math.min(initial * 2 ** this.failedAttempts, max);
      this.failedAttempts++;
      this.lossReason = `reconnect failed: ${(err as Error).message}`;
      this.otherSize = err instanceof MediumSizeChangedError ? err : undefined;
      if (err instanceof MediumSizeChangedError) throw err;
      throw new SourceLostError(`${this.describe()} is lost and could not be reconnected: ${(err as Error).message}`);
    }
  }

  private async connectOnce(): Promise<NbdClient> {
    if (this.spec.kind === 'nbd') return NbdClient.connect(this.spec.target);
    if (!this.server || this.server.hasExited) {
      await this.server?.stop(); // removes the dead server's socket and pidfile
      this.server = await NbdkitProcess.start({
        args: ['file', `file=${this.spec.path}`, ...(this.options.nbdkitArgs ?? [])],
        filters: this.options.nbdkitFilters,
        serverOptions: this.options.nbdkitServerOptions,
      });
    }
    return NbdClient.connect(this.server.target);
  }

  private adopt(client: NbdClient): void {
    this.client = client;
    void client.closed.then(async (lost) => {
      if (this.client === client) this.client = undefined;
      if (!lost || this.closing) return;
      const server = this.server;
      // The socket usually closes a moment before nbdkit's exit is reported: give it that moment.
      if (server) await Promise.race([server.exited, new Promise((r) => setTimeout(r, 200))]);
      const exit = server?.hasExited ? `; nbdkit ${server.describeExit()}${lastLine(server.stderr())}` : '';
      this.lossReason = `${lost.message}${exit}`;
      this.emit({ type: 'lost', message: `${this.describe()} lost: ${this.lossReason}` });
    });
  }

  private emit(event: SourceEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private describe(): string {
    return this.spec.kind === 'nbd' ? `NBD source ${nbdTargetUri(this.spec.target)}` : `source ${this.spec.path}`;
  }
}

function lastLine(text: string): string {
  const line = text.trim().split('\n').pop();
  return line ? `: ${line}` : '';
}

function identityOf(spec: SourceSpec): SourceIdentityHint {
  if (spec.kind === 'nbd') return { kind: 'nbd', uri: nbdTargetUri(spec.target) };
  let st: fs.Stats;
  try {
    st = fs.statSync(spec.path);
  } catch (err) {
    throw new SourceArgError(`cannot access SOURCE ${spec.path}: ${(err as Error).message}`);
  }
  if (spec.kind === 'file') return { kind: 'file', path: spec.path, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs };
  return { kind: 'device', path: spec.path, realPath: fs.realpathSync(spec.path), rdev: st.rdev };
}
