// /rescued/ and /rescued/<UID>/: one directory per SBX container found on the medium so far, holding the
// container in canonical order (<UID>.sbx), the decoded original file, and info.json. Every open pins the
// index as it is at that moment, so one open file never mixes two sets of found blocks.
import { GeneratedFileView } from '../generated-file-view';
import { DirectoryView, FileAttr, Handle, Node, View, ViewErrno } from '../view';
import type { SectorCache } from '../../cache/sector-cache';
import { CacheClosedError } from '../../cache/errors';
import { BlockIndex } from './block-index';
import { MediumScanner } from './medium-scanner';
import { RescuedContainer } from './rescued-container';
import { rescuedInfo } from './rescued-info';

/**
 * How long a listing of /rescued/ waits for the scanner to catch up with what is cached. The scanner keeps
 * up with the device, or (on a machine of few cores, while a fast medium is read) scans what is pending as soon
 * as a listing asks, from the page cache; so the wait is normally milliseconds (e.g. right after `blkfs acquire`);
 * after a mount over a large cache that was never scanned, the listing shows what has been found so far.
 */
const LISTING_WAIT_MS = 1_000;

/**
 * Loads (and remembers) container models per UID and index state. Every file of /rescued/<UID>/ is served from a
 * model whose burst level is settled (burst-level.ts): the order of <UID>.sbx never changes once it was served.
 */
export class RescuedContainers {
  private readonly models = new Map<string, Promise<RescuedContainer | undefined>>();
  private readonly infos = new Map<string, Promise<Buffer>>();
  private readonly settledModels = new Map<string, Promise<RescuedContainer | undefined>>();
  /** Burst levels settled during this mount (those settled on complete evidence are in the index too). */
  private readonly pins = new Map<string, number>();
  private readonly settledBurst = (key: string) => this.pins.get(key) ?? this.index.settledBurst(key);

  constructor(
    readonly index: BlockIndex,
    private readonly cache: SectorCache,
  ) {}

  /**
   * `work` on a file of this medium, which a program may still read after the mount followed the drive to another
   * medium and retired or closed this one's cache: then it answers as the rest of that cache does (CacheClosedError,
   * ENOMEDIUM), not with blocks the model holds in memory or whatever the closed database throws.
   */
  async whileOpen<T>(work: () => Promise<T>): Promise<T> {
    const gone = () => !this.index.open || this.cache.retired; // retired: the model's in-memory blocks are stale too
    if (gone()) throw new CacheClosedError(this.cache.cacheDir);
    try {
      return await work();
    } catch (e) {
      if (gone()) throw new CacheClosedError(this.cache.cacheDir);
      throw e;
    }
  }

  /** The model of `uid` with every block indexed so far; its burst level only if settled (names and sizes that do not depend on it). */
  current(uid: string): Promise<RescuedContainer | undefined> {
    return this.memo(this.models, uid, (upToId) => RescuedContainer.load(this.index, this.cache, uid, upToId, { settledBurst: this.settledBurst }));
  }

  /**
   * The model to serve the files with: its burst level settled, by `current`'s blocks when they are all blkar
   * looks at, else by reading the blocks after the reference block (memoised like `current`).
   */
  settled(uid: string): Promise<RescuedContainer | undefined> {
    return this.memo(this.settledModels, uid, async (upToId) => {
      const load = () => RescuedContainer.load(this.index, this.cache, uid, upToId, { settledBurst: this.settledBurst, probe: true });
      const model = await load();
      const key = model?.burstKey;
      if (!model || key === undefined || model.burst === undefined || model.burstEvidence === 'settled') return model;
      // Another model of this container may have settled it while this one was guessing: the first one holds.
      if (this.pins.has(key) || this.index.settledBurst(key) !== undefined) return load();
      this.pins.set(key, model.burst);
      if (model.burstEvidence === 'complete') this.index.settleBurst(key, model.burst);
      for (const k of this.models.keys()) if (k.startsWith(`${uid}@`)) this.models.delete(k);
      return model;
    });
  }

  private memo(
    models: Map<string, Promise<RescuedContainer | undefined>>,
    uid: string,
    load: (upToId: number) => Promise<RescuedContainer | undefined>,
  ): Promise<RescuedContainer | undefined> {
    const upToId = this.index.maxIdOfUid(uid);
    const key = `${uid}@${upToId}`;
    let m = models.get(key);
    if (!m) {
      for (const k of models.keys()) if (k.startsWith(`${uid}@`)) models.delete(k);
      m = load(upToId);
      models.set(key, m);
      m.catch(() => models.get(key) === m && models.delete(key));
    }
    return m;
  }

  /**
   * info.json of a model (memoised: it may hash the whole decoded file), except while part of the decoded file waits on
   * sectors not read yet: a read of the decoded file, or of /raw, changes its verdicts without adding to the index.
   */
  info(model: RescuedContainer): Promise<Buffer> {
    const key = `${model.uid}@${model.upToId}`;
    let p = this.infos.get(key);
    if (!p) {
      for (const k of this.infos.keys()) if (k.startsWith(`${model.uid}@`)) this.infos.delete(k);
      const made = rescuedInfo(model);
      p = made.then((r) => Buffer.from(JSON.stringify(r.json, null, 2) + '\n', 'utf8'));
      this.infos.set(key, p);
      const forget = () => this.infos.get(key) === p && this.infos.delete(key);
      made.then((r) => r.untriedBytes > 0 && forget(), forget);
    }
    return p;
  }

  /** info.json's true size for the current state (computed and memoised: `tar` archives st_size bytes). */
  async infoSize(uid: string): Promise<number> {
    const model = await this.settled(uid);
    return model ? (await this.info(model)).length : 0;
  }
}

function mtimeOf(model: RescuedContainer | undefined, fallback: Date, useFdt = false): Date {
  const t = useFdt ? (model?.metadata?.fdt ?? model?.metadata?.sdt) : model?.metadata?.sdt;
  return t !== undefined ? new Date(t * 1000) : fallback;
}

abstract class RescuedFile implements View {
  readonly kind = 'file';
  constructor(
    protected readonly containers: RescuedContainers,
    protected readonly uid: string,
    protected readonly mounted: Date,
  ) {}

  abstract getattr(): Promise<FileAttr>;

  async open(): Promise<Handle> {
    const model = await this.containers.settled(this.uid);
    if (!model) throw new ViewErrno('ENOENT');
    return model;
  }

  abstract read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno>;

  async release(): Promise<void> {}
}

class RescuedSortedView extends RescuedFile {
  async getattr(): Promise<FileAttr> {
    const m = await this.containers.settled(this.uid);
    return { size: m ? m.sortedSize() : 0, mode: 0o444, mtime: mtimeOf(m, this.mounted) };
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer> {
    return this.containers.whileOpen(() => (handle as RescuedContainer).readSorted(offset, length));
  }

  sizeOf(handle: Handle): number {
    return (handle as RescuedContainer).sortedSize();
  }
}

class RescuedDecodedView extends RescuedFile {
  async getattr(): Promise<FileAttr> {
    const m = await this.containers.current(this.uid);
    return { size: m?.fileSize ?? 0, mode: 0o444, mtime: mtimeOf(m, this.mounted, true) };
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const r = await this.containers.whileOpen(() => (handle as RescuedContainer).readDecoded(offset, length));
    if (r.data.length > 0 || r.errorAt === undefined) return r.data;
    return new ViewErrno('EIO', `no valid or repairable block covers byte ${r.errorAt} of the decoded file`);
  }

  /** The open container's (the FUSE glue tells a short read before a bad range from the end of the file by it). */
  sizeOf(handle: Handle): number {
    return (handle as RescuedContainer).fileSize ?? 0;
  }
}

/** info.json of /rescued/<UID>/. */
function rescuedInfoView(containers: RescuedContainers, uid: string, mounted: Date): GeneratedFileView {
  return new GeneratedFileView(
    async () => {
      const model = await containers.settled(uid);
      if (!model) throw new ViewErrno('ENOENT');
      return containers.info(model);
    },
    { idleSize: () => containers.infoSize(uid), mtime: async () => mtimeOf(await containers.current(uid), mounted) },
  );
}

/** /rescued/<UID>/ */
export class RescuedUidDirectory implements DirectoryView {
  readonly kind = 'directory';
  private readonly sorted: RescuedSortedView;
  private readonly decoded: RescuedDecodedView;
  private readonly info: GeneratedFileView;

  constructor(
    private readonly containers: RescuedContainers,
    private readonly uid: string,
    private readonly mounted: Date,
  ) {
    this.sorted = new RescuedSortedView(containers, uid, mounted);
    this.decoded = new RescuedDecodedView(containers, uid, mounted);
    this.info = rescuedInfoView(containers, uid, mounted);
  }

  async entries(): Promise<ReadonlyMap<string, Node>> {
    const m = await this.containers.current(this.uid);
    const out = new Map<string, Node>();
    if (!m) return out;
    if (m.layout) out.set(m.containerName(), this.sorted);
    const name = m.decodedName();
    if (name) out.set(name, this.decoded);
    out.set('info.json', this.info);
    return out;
  }

  mtime(): Date {
    return this.mounted;
  }
}

/** /rescued/ */
export class RescuedDirectory implements DirectoryView {
  readonly kind = 'directory';
  private readonly dirs = new Map<string, RescuedUidDirectory>();
  private readonly mounted = new Date();

  constructor(
    private readonly containers: RescuedContainers,
    private readonly scanner: MediumScanner | undefined,
  ) {}

  async entries(): Promise<ReadonlyMap<string, Node>> {
    if (this.scanner) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.scanner.idle(), new Promise<void>((r) => (timer = setTimeout(r, LISTING_WAIT_MS)))]);
      clearTimeout(timer);
    }
    const out = new Map<string, Node>();
    for (const { uid } of this.containers.index.uids()) {
      let dir = this.dirs.get(uid);
      if (!dir) this.dirs.set(uid, (dir = new RescuedUidDirectory(this.containers, uid, this.mounted)));
      out.set(uid, dir);
    }
    return out;
  }

  mtime(): Date {
    return this.mounted;
  }
}
