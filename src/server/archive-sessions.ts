// The mount's side of archiving: the image checksums that follow the cache (/checksums, /status), the DAT verdict
// (mount --dat), what /sbx/image.sbx looks like (for `blkfs archive` to plan its parts), and the `blkfs archive`
// clients attached through the control socket: each joins the acquisition (so the medium is read while it
// archives) and reports its progress, shown in /status.
import type Database from 'better-sqlite3';
import { ChecksumTracker, SettledSource } from '../archive/checksum-tracker';
import { ChecksumStore } from '../archive/checksum-store';
import { backgroundYield } from '../cache/background-yield';
import { startImageHasher } from '../archive/image-hasher';
import { Dat, datVerdict, DatVerdict } from '../archive/dat';
import type { ArchiveProgress, SbxImageInfo } from '../archive/archive-status';
import { Layout } from '../sbx/format/layout';
import { uidToHex } from '../sbx/format/header';
import type { SbxImageParams } from '../views/sbx/image-params';
import type { ImageIdentity } from '../views/sbx/image-identity';
import type { ChecksumsSource } from '../views/checksums-view';
import type { ControlConnection } from './control-server';

interface Joiner {
  join(): { result: Promise<unknown>; detach: () => void };
}

export class ArchiveSessions implements ChecksumsSource {
  readonly tracker: ChecksumTracker;
  private readonly sessions = new Map<number, ArchiveProgress | { destinations: string[]; phase: 'starting' }>();
  private nextId = 1;
  private verdictMemo: { sha1: string; verdict: DatVerdict } | undefined;

  constructor(
    private readonly cache: SettledSource & { database(): Database.Database; busyRateNow(): number },
    private readonly acquisitions: Joiner,
    private readonly dat: Dat | undefined,
    private readonly image: { params: SbxImageParams; identity: ImageIdentity; available: boolean },
    log: (message: string) => void,
  ) {
    const wait = backgroundYield(() => cache.busyRateNow());
    this.tracker = new ChecksumTracker(cache, log, new ChecksumStore(cache.database()), startImageHasher, wait).start();
  }

  state() {
    return this.tracker.state();
  }

  verdict(): DatVerdict | undefined {
    const s = this.tracker.state();
    if (!this.dat || !s.digests) return undefined;
    if (this.verdictMemo?.sha1 !== s.digests.sha1) this.verdictMemo = { sha1: s.digests.sha1, verdict: datVerdict(this.dat, s.size, s.digests) };
    return this.verdictMemo.verdict;
  }

  imageName(): string {
    return this.image.identity.fnm;
  }

  sbxImageInfo(): SbxImageInfo | null {
    if (!this.image.available) return null;
    const p = this.image.params;
    const layout = new Layout({ version: p.version, d: p.dataShards, p: p.parityShards, burst: p.burst });
    return {
      version: p.version,
      dataShards: p.dataShards,
      parityShards: p.parityShards,
      burst: p.burst,
      hash: p.hash,
      blockSize: layout.blockSize,
      containerSize: layout.containerSize(this.cache.size),
      uid: uidToHex(this.image.identity.uid),
      name: this.image.identity.fnm,
    };
  }

  /** Fields of /status. */
  status(): object {
    return {
      checksums: { ...this.tracker.state(), dat: this.dat ? (this.verdict() ?? { pending: true, dat: this.dat.name ?? this.dat.file }) : null },
      sbxImage: this.sbxImageInfo(),
      archives: [...this.sessions.values()],
    };
  }

  /** A `blkfs archive` client: joins the acquisition until it leaves; its progress reports go to /status. */
  async serve(req: { destinations: string[] }, conn: ControlConnection): Promise<void> {
    const id = this.nextId++;
    this.sessions.set(id, { destinations: req.destinations, phase: 'starting' });
    let left = false;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    conn.onRequest((r) => {
      if (r.cmd === 'archive-progress') this.sessions.set(id, r.progress);
      else if (r.cmd === 'cancel') finish();
    });
    void conn.closed.then(finish);
    void finished.then(() => (left = true));
    let failure: unknown;
    let detach = () => {};
    // Joined an acquisition that was winding down (its last client left)? Join again until the medium is settled.
    const follow = async () => {
      while (!left) {
        const run = this.acquisitions.join();
        detach = run.detach;
        try {
          await run.result;
        } catch (err) {
          failure = err;
          finish();
          return;
        } finally {
          run.detach();
        }
        if (this.cache.extents().every((e) => e.status === '+' || e.status === '-')) {
          conn.send({ type: 'progress', bytesDone: this.cache.size, bytesTotal: this.cache.size, phase: 'acquired' });
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    void follow();
    try {
      await finished;
    } finally {
      detach();
      this.sessions.delete(id);
    }
    if (failure !== undefined) throw failure;
    conn.send({ type: 'done' });
  }

  async close(): Promise<void> {
    await this.tracker.stop();
  }
}
