// /mapfile, readable and writable: GNU ddrescue can use it as its own mapfile (`ddrescue -d -b512 MNT/raw
// disk.img MNT/mapfile`). ddrescue opens it O_RDWR and reads it, then saves its map now and then, and at the end,
// by open(O_WRONLY|O_TRUNC) + fsync + write + close. Each open for reading gets one snapshot of the map; each open
// for writing collects what is written and hands it to MapfileDriver at close (flush), after the writer's reads
// are committed, so the cache (the truth) and ddrescue's view are reconciled there. What the writer wrote last
// is kept verbatim beside the cache (ddrescue.map) as the record of its view.
import * as fs from 'fs';
import * as path from 'path';
import type { SectorCache } from '../cache/sector-cache';
import { MapfileError, renderMapfile } from '../cache/mapfile';
import { IMAGE_MAPFILE, imageOfKeptMap, sameFile } from '../cache/kept-image-map';
import { PRIVATE_FILE_MODE } from '../cache/private-files';
import { FileAttr, Handle, ViewErrno, WritableView } from './view';
import { DriverState, MapfileDriver } from './mapfile-driver';
import { ddrescueOutfileOf, SEVERAL_IMAGES } from './ddrescue-outfile';

/** A write or truncate of /mapfile past this is EINVAL: no mapfile of a real medium is that large. */
const MAX_MAPFILE_BYTES = 64 << 20;

/** What /mapfile needs of the cache: its map, its counters, and the commits of the writer's own reads. */
export type MapfileCache = Pick<SectorCache, 'size' | 'sectorSize' | 'sectorCount' | 'cacheDir' | 'extents' | 'status' | 'commitPending' | 'mapfileText'>;

export interface MapfileLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The file beside the cache that keeps the writer's last map verbatim. */
export const DRIVER_MAPFILE = 'ddrescue.map';
/** Beside it: the image that map describes (ddrescue's outfile, absolute), when the writer was known. */
export const DRIVER_IMAGE = 'ddrescue.image';

interface ReadHandle {
  kind: 'read';
  bytes: Buffer;
}

interface WriteHandle {
  kind: 'write';
  /**
   * The file as this descriptor sees it: the snapshot at open (ddrescue reads its mapfile through its O_RDWR
   * descriptor), then truncated and written; data[0, length). Grown as writes arrive.
   */
  data: Buffer;
  length: number;
  /** Written since the last flush: the next close hands it to the driver. */
  dirty: boolean;
  /** The image the opener (a ddrescue naming this /mapfile) writes, when known. */
  outfile: string | undefined;
}

type OpenHandle = ReadHandle | WriteHandle;

export class WritableMapfileView implements WritableView {
  readonly kind = 'file';
  readonly driver: MapfileDriver;
  private readonly opened: OpenHandle[] = [];
  private memo: { key: string; bytes: Buffer } | undefined;
  private driverVersion = 0;
  /**
   * The map of the last image `blkfs export` wrote from this mount (or exported or imported before it), and that
   * image, until a writer writes: a ddrescue started on that image opens /mapfile for writing and must see '+' only
   * where the image holds data, not sectors read since; one started on another image must not see it at all.
   */
  private exportBase: { driver: MapfileDriver; image: string | undefined } | undefined;
  /** The image the driver's map describes (ddrescue's absolute outfile), when its writer was known. */
  private driverImage: string | undefined;
  /** The last new image logged. */
  private announced: string | undefined;

  /**
   * `mapfilePath` is /mapfile's absolute path in the mount; `outfileOf` finds the image of the ddrescue running on
   * it (undefined: not known, /mapfile behaves as if every writer continued the driver's image; SEVERAL_IMAGES:
   * ddrescues on different images share it, and each opener starts from an empty image).
   */
  constructor(
    private readonly cache: MapfileCache,
    private readonly log: MapfileLog,
    private readonly mapfilePath?: string,
    private readonly outfileOf: (mapfile: string) => string | undefined = ddrescueOutfileOf,
  ) {
    this.driver = new MapfileDriver(cache.sectorSize, cache.sectorCount, cache.size);
    const since = this.resume();
    if (since) this.driverImage = readText(path.join(cache.cacheDir, DRIVER_IMAGE))?.trim() || undefined;
    this.resumeImageMap(since);
  }

  /** The map of the last image exported or imported, when newer than the last writer's: what a new writer starts from. */
  private resumeImageMap(driverWrote: Date | undefined): void {
    const file = path.join(this.cache.cacheDir, IMAGE_MAPFILE);
    try {
      if (driverWrote && fs.statSync(file).mtime <= driverWrote) return;
      this.exported(fs.readFileSync(file, 'latin1'));
    } catch {
      // none (or unreadable): a new writer starts from the driver's map, or from an empty image
    }
  }

  /** After a remount, the writer's last map (kept beside the cache) still tells its '*' and '/' areas and position. */
  private resume(): Date | undefined {
    const file = path.join(this.cache.cacheDir, DRIVER_MAPFILE);
    let text: string;
    let mtime: Date;
    try {
      text = fs.readFileSync(file, 'latin1');
      mtime = fs.statSync(file).mtime;
    } catch {
      return undefined; // no writer ever drove this cache
    }
    try {
      const { refused } = this.driver.accept(text, this.cache.extents(), mtime);
      this.log.info(`mapfile: resumed the view of the last writer (${file}, ${mtime.toISOString()})${refused.length ? `; ${refused.length} areas no longer agree with the cache` : ''}`);
      return mtime;
    } catch (err) {
      this.log.warn(`mapfile: ignoring ${file}: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** For /status: the writer that drives the rescue, if one has written (its status line, when). */
  driverStatus(): Omit<DriverState, 'text'> | null {
    const s = this.driver.state();
    if (!s) return null;
    const { text: _text, ...rest } = s;
    return rest;
  }

  /** After `blkfs export` through this mount: `mapText` is the exported mapfile (what `image` holds). */
  exported(mapText: string, image = imageOfKeptMap(mapText)): void {
    const base = new MapfileDriver(this.cache.sectorSize, this.cache.sectorCount, this.cache.size);
    base.accept(mapText, this.cache.extents());
    this.exportBase = { driver: base, image: image === undefined ? undefined : path.resolve(image) };
  }

  /**
   * Whether the opener writes the image last exported: it does if it is not known (as before: /mapfile cannot tell
   * who opens it); it does not if ddrescues on several images share /mapfile, or the kept map does not say its image
   * (an older blkfs kept it). Another path to the same file (a link, a bind mount) is the same image.
   */
  private async writesExportedImage(outfile: string | undefined): Promise<boolean> {
    const exported = this.exportBase?.image;
    if (outfile === undefined) return true;
    if (outfile === SEVERAL_IMAGES || exported === undefined) return false;
    if (await sameFile(outfile, exported)) return true;
    if (this.announced !== outfile) {
      this.announced = outfile;
      this.log.info(`mapfile: ddrescue opened it for ${outfile}, not the image last exported (${exported}): that image's map is not shown to it`);
    }
    return false;
  }

  /**
   * The first writer, with no map of its image known (no ddrescue has written here, nothing was exported through
   * this mount): its image is taken to hold nothing, so ddrescue copies what the cache holds from the cache (no
   * device read) instead of skipping it and leaving zeros under '+' (a new image, `blkfs export` forgotten).
   */
  private emptyImage(): MapfileDriver {
    const c = this.cache;
    const none = c.extents().map((e) => (e.status === '+' ? { ...e, status: '?' as const } : e));
    const d = new MapfileDriver(c.sectorSize, c.sectorCount, c.size);
    d.accept(renderMapfile(none, c.sectorSize, c.size, { currentPos: 0, phase: '?', pass: 1 }), c.extents());
    return d;
  }

  render(driver: MapfileDriver = this.driver): Buffer {
    const c = this.cache;
    if (!driver.state()) return Buffer.from(c.mapfileText(), 'latin1'); // no writer yet: the cache's own map
    const extents = driver.view(c.extents());
    const own = c.status();
    // The writer's status line, unless it names a pass over undecided sectors and none are left in the map shown.
    const undecided = extents.some((e) => e.status === '?' || e.status === '*' || e.status === '/');
    const theirs = driver.statusLine();
    const line = theirs && (undecided || !'?*/'.includes(theirs.phase)) ? theirs : { phase: own.phase, pass: own.pass, currentPos: own.currentPos };
    const d = driver === this.driver ? driver.state() : undefined;
    const comments = [`Medium: ${c.size} bytes, sector size ${c.sectorSize}`];
    if (d) comments.push(`Driven by ${d.program}; its map last written ${d.updated}`);
    return Buffer.from(renderMapfile(extents, c.sectorSize, c.size, { ...line, comments }), 'latin1');
  }

  private current(): Buffer {
    // The counters that change whenever the map or its status line does (not the read rate, which drifts).
    const s = this.cache.status();
    const key = [s.bytesCached, s.bytesBad, s.bytesUntried, s.bytesNonTrimmed, s.bytesNonScraped, s.deviceReads, s.phase, s.pass, s.currentPos, this.driverVersion].join();
    if (this.memo?.key !== key) this.memo = { key, bytes: this.render() };
    return this.memo.bytes;
  }

  /** The largest of the open snapshots (see GeneratedFileView.getattr: no open reader may be told less than it reads). */
  openSize(): number | undefined {
    return this.opened.length === 0 ? undefined : Math.max(...this.opened.map((h) => (h.kind === 'write' ? h.length : h.bytes.length)));
  }

  getattr(): FileAttr {
    const size = this.openSize() ?? this.current().length;
    return { size, mode: 0o644, mtime: new Date() };
  }

  async open(): Promise<Handle> {
    const h: ReadHandle = { kind: 'read', bytes: this.render() };
    this.opened.push(h);
    return h;
  }

  async openForWrite(truncate: boolean): Promise<Handle> {
    const outfile = this.mapfilePath !== undefined ? this.outfileOf(this.mapfilePath) : undefined;
    // ddrescue reads its map before it creates its image: an image not there yet (or empty) holds nothing, whatever
    // map was kept (an export to another path, a map written by hand, another image's): shown one, it left zeros under '+'.
    const exported = this.exportBase && (await this.writesExportedImage(outfile)) ? this.exportBase.driver : undefined;
    let base = exported ?? (this.driver.state() && !this.newImage(outfile) ? this.driver : undefined);
    if (base && !truncate && (await this.imageHoldsNothing(outfile))) base = undefined;
    const bytes = this.render(base ?? this.emptyImage());
    const h: WriteHandle = { kind: 'write', data: Buffer.from(bytes), length: truncate ? 0 : bytes.length, dirty: false, outfile };
    this.opened.push(h);
    return h;
  }

  /** The opener's image (a ddrescue's outfile) is missing, or an empty regular file (not a device, whose size is 0). */
  private async imageHoldsNothing(outfile: string | undefined): Promise<boolean> {
    if (outfile === undefined || outfile === SEVERAL_IMAGES) return false;
    let empty: boolean;
    try {
      const st = await fs.promises.stat(outfile);
      empty = st.isFile() && st.size === 0;
    } catch (err) {
      empty = (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
    if (empty && this.announced !== outfile) {
      this.announced = outfile;
      this.log.info(`mapfile: ddrescue opened it for ${outfile}, which holds nothing yet: what the cache holds is copied from the cache`);
    }
    return empty;
  }

  /**
   * A ddrescue starting on another image than the one the driver's map describes (`blkfs export` forgotten): it
   * must not be shown the old image's map, or it skips what its new image lacks and leaves zeros under '+'.
   */
  private newImage(outfile: string | undefined): boolean {
    if (outfile === undefined) return false;
    // With ddrescues on different images at work, the opener may be any of them: each is taken to start empty.
    const several = outfile === SEVERAL_IMAGES;
    if (!several && (this.driverImage === undefined || outfile === this.driverImage)) return false;
    // Once per new image (ddrescue opens /mapfile again to save it, before its first save is accepted).
    if (this.announced === outfile) return true;
    this.announced = outfile;
    const opened = several ? 'ddrescue opened it while ddrescues writing different images share it' : `ddrescue opened it for a new image ${outfile}`;
    this.log.info(`mapfile: ${opened} (the map kept is of ${this.driverImage ?? 'an unknown image'}): its image is taken to hold nothing yet, what the cache holds is copied from the cache`);
    return true;
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const h = handle as OpenHandle;
    const bytes = h.kind === 'write' ? h.data.subarray(0, h.length) : h.bytes;
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  }

  sizeOf(handle: Handle): number {
    const h = handle as OpenHandle;
    return h.kind === 'write' ? h.length : h.bytes.length;
  }

  async write(handle: Handle, offset: number, data: Buffer): Promise<number | ViewErrno> {
    const h = handle as OpenHandle;
    if (h.kind !== 'write') return new ViewErrno('EBADF');
    const end = offset + data.length;
    if (end > MAX_MAPFILE_BYTES) return new ViewErrno('EINVAL');
    this.reserve(h, end);
    if (offset > h.length) h.data.fill(0x20, h.length, offset);
    data.copy(h.data, offset);
    h.length = Math.max(h.length, end);
    h.dirty = true;
    return data.length;
  }

  async truncate(handle: Handle | undefined, size: number): Promise<void | ViewErrno> {
    // FUSE turns open(O_TRUNC) into an open, then a truncate of the path with no handle: as on a disk file, it
    // applies to every descriptor open for writing (ddrescue's read-write one has written nothing, and stays so).
    const targets = handle !== undefined ? [handle as OpenHandle] : this.opened;
    // Checked like a write: `truncate -s 5G /mnt/mapfile` allocated the size in memory (a RangeError beyond 4 GiB).
    if (size > MAX_MAPFILE_BYTES) return new ViewErrno('EINVAL');
    for (const h of targets) {
      if (h.kind !== 'write') {
        if (handle !== undefined) return new ViewErrno('EBADF');
        continue;
      }
      this.reserve(h, size);
      if (size > h.length) h.data.fill(0x20, h.length, size);
      h.length = size;
    }
  }

  async flush(handle: Handle): Promise<void | ViewErrno> {
    const h = handle as OpenHandle;
    if (h.kind !== 'write' || !h.dirty) return;
    h.dirty = false;
    return this.apply(h.data.toString('latin1', 0, h.length), h.outfile);
  }

  async release(handle: Handle): Promise<void> {
    const h = handle as OpenHandle;
    const i = this.opened.lastIndexOf(h);
    if (i >= 0) this.opened.splice(i, 1);
    if (h.kind === 'write' && h.dirty) await this.flush(h);
  }

  private reserve(h: WriteHandle, size: number): void {
    if (size <= h.data.length) return;
    const grown = Buffer.alloc(Math.max(size, Math.min(h.data.length * 2, MAX_MAPFILE_BYTES)));
    h.data.copy(grown, 0, 0, h.length);
    h.data = grown;
  }

  /** Reconciles a written map with the cache; a malformed one is refused (EINVAL at close) and logged. */
  private async apply(text: string, outfile: string | undefined): Promise<void | ViewErrno> {
    if (text.trim() === '') {
      this.log.info('mapfile write: empty, ignored');
      return;
    }
    await this.cache.commitPending(); // what the writer read is recorded before its map is compared with ours
    let refused: string[];
    try {
      ({ refused } = this.driver.accept(text, this.cache.extents()));
    } catch (err) {
      if (!(err instanceof MapfileError)) throw err;
      this.log.error(`mapfile write refused: ${err.message}`);
      return new ViewErrno('EINVAL', err.message);
    }
    this.driverVersion++;
    this.exportBase = undefined; // the writer's map is now the image's
    this.driverImage = outfile;
    for (const r of refused.slice(0, 20)) this.log.warn(r);
    if (refused.length > 20) this.log.warn(`mapfile write: ${refused.length - 20} more areas refused`);
    const s = this.driver.state()!;
    this.log.info(`mapfile written by ${s.program}: phase ${s.phase}, pass ${s.pass}, position ${s.currentPos}`);
    // The map first: a crash between the two leaves the new map with the old image's name, so a ddrescue on the
    // new image copies from the cache again (slower) rather than skipping what it lacks.
    await this.keepVerbatim(DRIVER_MAPFILE, text);
    await this.keepVerbatim(DRIVER_IMAGE, outfile === undefined ? '' : outfile + '\n');
  }

  private async keepVerbatim(name: string, text: string): Promise<void> {
    const file = path.join(this.cache.cacheDir, name);
    try {
      const fh = await fs.promises.open(file + '.tmp', 'w', PRIVATE_FILE_MODE);
      try {
        await fh.chmod(PRIVATE_FILE_MODE); // the map of someone's disk is private, whatever the umask or a stale .tmp's mode
        await fh.writeFile(text, 'latin1');
      } finally {
        await fh.close();
      }
      await fs.promises.rename(file + '.tmp', file);
    } catch (err) {
      this.log.warn(`cannot keep ${file}: ${(err as Error).message}`);
    }
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}
