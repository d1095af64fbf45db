// What is in the drive, cheaply: a "medium token" that changes when the medium may have changed, and a guard
// that keeps one medium's reads apart from another's.
//
// - image file: dev/inode/size/mtime of the path (gone: no medium);
// - block device: its size and media-change sequence number (diskseq) from sysfs (size 0: no medium); for a loop
//   device also its backing file and that file's inode (a disc swapped with LOOP_CHANGE_FD); the identity samples
//   (src/cache/medium-identity.ts) are the real proof in every case;
// - NBD URI: the connection epoch. Every reconnect may reach another disc, so it starts a new epoch that must be
//   identified again before anything read through it is served or stored.
//
// The token is checked before every read and again after it returns (a read that raced a swap is never handed
// up, so never stored; nor is its failure, so never marked bad), and polled every second so /status and the log
// say what happened while nobody reads.
import * as fs from 'fs';
import * as path from 'path';
import { BlockSource, MediaError, SourceEvent, SourceLostError, SourceStats, readInto } from './block-source';
import type { SourceSpec } from './source-spec';

/** The medium in the drive changed or went away: nothing read now may be taken for the medium being served. */
export class MediumChangedError extends SourceLostError {
  constructor(message: string) {
    super(message);
    this.name = 'MediumChangedError';
  }
}

/** null: no medium (file gone, drive empty, loop device detached). */
export type MediumToken = string | null;

/** The sysfs directory of a block device node (/dev/loop3 → /sys/class/block/loop3). */
function sysfsDir(devPath: string): string {
  return path.join('/sys/class/block', path.basename(fs.realpathSync(devPath)));
}

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The medium in the drive now: its token and, when known without reading it, its size in bytes. */
export interface MediumLook {
  token: MediumToken;
  size?: number;
}

/** A function looking at the drive of a file or device source (a few small sysfs reads or one stat). */
export function mediumLooker(spec: SourceSpec): () => MediumLook {
  if (spec.kind === 'file') {
    return () => {
      try {
        const st = fs.statSync(spec.path);
        return { token: `file:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`, size: st.size };
      } catch {
        return { token: null };
      }
    };
  }
  if (spec.kind === 'device') {
    let sys: string;
    try {
      sys = sysfsDir(spec.path);
    } catch {
      return () => ({ token: null });
    }
    return () => {
      const size = readTrim(path.join(sys, 'size'));
      if (size === undefined || size === '0') return { token: null };
      // diskseq (Linux 5.15+) grows at every media change the kernel sees, so a disc swapped out and back in between
      // two looks (A→B→A) still moves the token.
      let token = `dev:${size}:${readTrim(path.join(sys, 'diskseq')) ?? ''}`;
      const backing = readTrim(path.join(sys, 'loop', 'backing_file'));
      if (backing !== undefined) {
        // A loop device: the disc is its backing file. "(deleted)" marks an unlinked one: still the same open file.
        let ino = '?';
        try {
          ino = String(fs.statSync(backing.replace(/ \(deleted\)$/, '')).ino);
        } catch {
          /* the path is gone: the name alone */
        }
        token += `:loop:${backing}:${ino}`;
      } else if (fs.existsSync(path.join(sys, 'loop'))) {
        return { token: null }; // a loop device with nothing attached
      }
      return { token, size: Number(size) * 512 }; // sysfs counts 512-byte units whatever the sector size
    };
  }
  return () => ({ token: 'nbd' });
}

export type MediumState = 'present' | 'changed' | 'absent';

export interface MediumEvent {
  state: MediumState;
  message: string;
}

export interface MediumWatchStatus {
  state: MediumState;
  /** Times the medium was seen to change or go away since mount. */
  changes: number;
  /** Reads refused or discarded because the medium had changed. */
  refusedReads: number;
  since: string;
  message: string;
}

/**
 * A BlockSource that only answers while the medium it was opened on is known to be there. A change (token moved,
 * NBD reconnect) puts it in 'changed' and every read fails with MediumChangedError until accept() says the medium
 * in the drive was identified as the same one (the server decides that, from the cache's identity samples).
 */
export class GuardedSource implements BlockSource {
  private state: MediumState = 'present';
  private token: MediumToken;
  /** Lost/reconnected events of the connection so far: part of the token (each reconnect may reach another disc). */
  private epoch = 0;
  /** Bumped on every change: a read whose generation moved while it ran is discarded. */
  private generation = 0;
  private timer?: NodeJS.Timeout;
  private readonly listeners = new Set<(e: MediumEvent) => void>();
  private readonly unsubscribe?: () => void;
  private readonly info: MediumWatchStatus;
  /** Identifies the medium in the drive now (the server's follower); a read waits for it instead of failing. */
  private identifier?: () => Promise<unknown>;
  /** The generation whose stale pages were dropped (dropPages), and that drop. */
  private droppedFor = 0;
  private dropping: Promise<void> = Promise.resolve();

  constructor(
    readonly inner: BlockSource,
    private readonly look: () => MediumLook,
    private readonly name: string,
    /** Drops what the kernel caches of the device (page-cache.ts), before the first identity read after a change. */
    private readonly dropPages?: () => Promise<void>,
  ) {
    this.token = this.mediumToken();
    this.info = { state: 'present', changes: 0, refusedReads: 0, since: new Date().toISOString(), message: `medium ${name} present` };
    // An NBD connection that dropped may come back to another disc: each loss or reconnect is a change.
    this.unsubscribe = inner.onEvent?.((e: SourceEvent) => {
      this.epoch++;
      this.changed(e.type === 'lost' ? e.message : `${e.message}: identifying the medium again`, 'changed');
    });
  }

  get size(): number {
    return this.inner.size;
  }

  get sectorSize(): number {
    return this.inner.sectorSize;
  }

  get sectorSizeChoice() {
    return this.inner.sectorSizeChoice;
  }

  get identityHint() {
    return this.inner.identityHint;
  }

  /**
   * Lets a read that finds the medium changed wait for one identification of what is in the drive (a reconnect to
   * the same disc then costs the reader a moment, not an error). It resolves to the failure that kept the medium
   * from being identified, if any (e.g. the source is still lost).
   */
  setIdentifier(identify: () => Promise<unknown>): void {
    this.identifier = identify;
  }

  /** Polls the token every intervalMs (unref'd: never keeps the process alive). */
  watch(intervalMs = 1000): void {
    this.timer ??= setInterval(() => this.poll(), intervalMs).unref();
  }

  onMediumEvent(listener: (e: MediumEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): MediumWatchStatus {
    return { ...this.info };
  }

  get current(): MediumState {
    return this.state;
  }

  /** The token right now (null: no medium in the drive). */
  mediumToken(): MediumToken {
    const t = this.look().token;
    return t === null ? null : `${t}#${this.epoch}`;
  }

  /** The size of the medium in the drive now, when the drive tells it without a read (else the connection's). */
  mediumSize(): number {
    return this.look().size ?? this.inner.size;
  }

  /** Compares the token now with the accepted one; a difference is a change. */
  poll(): void {
    if (this.state !== 'present') return;
    const now = this.mediumToken();
    if (now !== this.token) this.changed(now === null ? `medium ${this.name} removed` : `medium in ${this.name} changed`, now === null ? 'absent' : 'changed');
  }

  /** The medium in the drive was identified as the one being served: answer reads again. */
  accept(message: string): void {
    this.token = this.mediumToken();
    this.state = 'present';
    Object.assign(this.info, { state: 'present', since: new Date().toISOString(), message });
    this.emit({ state: 'present', message });
  }

  /** Marks the medium changed (or gone) by hand, e.g. when identification finds another disc. */
  changed(message: string, state: 'changed' | 'absent'): void {
    this.generation++;
    if (this.state === 'present') this.info.changes++;
    else if (this.state === state && this.info.message === message) return;
    this.state = state;
    Object.assign(this.info, { state, since: new Date().toISOString(), message });
    this.emit({ state, message });
  }

  read(offset: number, length: number): Promise<Buffer> {
    return this.guarded(offset, () => this.inner.read(offset, length));
  }

  readInto(offset: number, target: Buffer): Promise<Buffer> {
    return this.guarded(offset, () => readInto(this.inner, offset, target));
  }

  private async guarded(offset: number, read: () => Promise<Buffer>): Promise<Buffer> {
    this.poll();
    if (this.state !== 'present' && this.identifier) {
      const failure = await this.identifier();
      // Still not identified because the source itself is unreachable: say that (ENXIO), not "no medium".
      if ((this.state as MediumState) !== 'present' && failure instanceof SourceLostError && !(failure instanceof MediumChangedError)) {
        this.info.refusedReads++;
        throw failure;
      }
    }
    if (this.state !== 'present') {
      this.info.refusedReads++;
      throw new MediumChangedError(`no medium to read: ${this.info.message}`);
    }
    const gen = this.generation;
    const raced = () => {
      this.poll(); // after the read returned: a read that raced a swap is discarded, never stored
      if (gen === this.generation && this.state === 'present') return undefined;
      this.info.refusedReads++;
      return new MediumChangedError(`read at ${offset} discarded: ${this.info.message}`);
    };
    let data: Buffer;
    try {
      data = await read();
    } catch (e) {
      // A media error that raced a swap (EIO from a drive being emptied) says nothing about the medium's sectors.
      throw (e instanceof MediaError ? raced() : undefined) ?? e;
    }
    const err = raced();
    if (err) throw err;
    return data;
  }

  /**
   * A read that bypasses the guard, for identifying the medium now in the drive. After a change, the kernel's cached
   * pages of the device are dropped first (once per change): a read that raced the swap may have left the old disc's.
   */
  async readForIdentity(offset: number, length: number): Promise<Buffer> {
    if (this.dropPages && this.droppedFor !== this.generation) {
      this.droppedFor = this.generation;
      this.dropping = this.dropPages();
    }
    await this.dropping;
    return this.inner.read(offset, length);
  }

  stats(): SourceStats {
    return this.inner.stats();
  }

  onEvent(listener: (event: SourceEvent) => void): () => void {
    return this.inner.onEvent ? this.inner.onEvent(listener) : () => undefined;
  }

  hangUpStalled(olderThanMs: number): boolean {
    return this.inner.hangUpStalled?.(olderThanMs) ?? false;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe?.();
    await this.inner.close();
  }

  private emit(e: MediumEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        process.emitWarning(`medium listener failed: ${(err as Error).message}`);
      }
    }
  }
}
