// How a failed group commit reaches someone. A reader answered before its commit (early) never hears of that
// commit's failure: flush()/close() (the unmount, the end of an acquisition) report it, once. The fault is injected
// in the state store's transaction (what a full or failing disk does to SQLite's commit).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import type { DataFile } from '../../../src/cache/data-file';
import { DataFileSyncError, JournalSyncError } from '../../../src/cache/errors';
import type { StateStore } from '../../../src/cache/state-store';
import { SourceLostError } from '../../../src/source/block-source';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;

/** Makes the cache's commits fail while `failing` is true (its state store's transaction throws, nothing recorded). */
function commitFaults(dev: CachedDevice): { failing: boolean } {
  const state = (dev as unknown as { store: { state: StateStore } }).store.state;
  const real = state.transactionDeferringSync.bind(state);
  const fault = { failing: false };
  state.transactionDeferringSync = <T>(fn: () => T): T => {
    if (fault.failing) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    return real(fn);
  };
  return fault;
}

describe('cache/commit errors', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-commit-errors-'))));
  afterEach(async () => {
    await dev?.close().catch(() => undefined);
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('a failed commit is reported to someone', () => {
    it("a reader's own commit failure does not hide an earlier one whose readers were answered early: flush() still reports it", async () => {
      const img = patternBuffer(4 * MiB, 5);
      dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c'), memoryBytes: 0 });
      const fault = commitFaults(dev);
      fault.failing = true;
      // A: answered once written; its commit (later) fails and nobody waits for it.
      const a = MiB;
      expect((await dev.read(a, 64 * 1024)).data.equals(img.subarray(a, a + 64 * 1024))).to.equal(true);
      await dev.commitPending();
      expect(dev.statusAt(a / 512)).to.equal('?');
      // B: after a failed commit a reader waits for its own, and sees its failure.
      const b = 2 * MiB;
      const seen = await dev.read(b, 4096).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(seen, "B's reader sees its commit fail").to.be.instanceOf(Error);
      fault.failing = false;
      // Nobody was told that A's bytes were not recorded (they are '?', to be read from the medium again).
      const flushed = await dev.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(flushed, "A's failure is reported by flush()").to.be.instanceOf(Error);
      expect((flushed as Error).message).to.match(/disk I\/O error/);
      expect(await dev.flush().then(() => 'ok'), 'and only once').to.equal('ok');
    });

    it('a failure nobody waits for is told at once to onUnseenFailure (the mount log), once until flush() reports it', async () => {
      const img = patternBuffer(4 * MiB, 4);
      const heard: unknown[] = [];
      const opts = { source: new MemorySource(img), cacheDir: path.join(tmp, 'c'), memoryBytes: 0, onUnseenFailure: (e: unknown) => heard.push(e) };
      dev = await openCache(opts);
      const fault = commitFaults(dev);
      fault.failing = true;
      await Promise.all([dev.read(MiB, 64 * 1024), dev.read(2 * MiB, 64 * 1024)]);
      await dev.commitPending();
      await new Promise((r) => setImmediate(r));
      expect(heard.length, 'heard before any flush()').to.equal(1);
      expect((heard[0] as Error).message).to.match(/disk I\/O error/);
      fault.failing = false;
      expect(await dev.flush().then(() => 'ok', (e: unknown) => e)).to.equal(heard[0]);
      await dev.read(3 * MiB + 512 * 1024, 4096); // waits for its own commit, which succeeds: readers are answered early again
      fault.failing = true;
      await dev.read(3 * MiB, 64 * 1024);
      await dev.commitPending();
      await new Promise((r) => setImmediate(r));
      expect(heard.length, 'a failure after that flush() is heard again').to.equal(2);
    });

    it('/status says storing failed (the latest failure, when, and whether it still fails) until a commit succeeds', async () => {
      dev = await openCache({ source: new MemorySource(patternBuffer(4 * MiB, 3)), cacheDir: path.join(tmp, 'c'), memoryBytes: 0 });
      expect(dev.status().storeFailure, 'nothing failed yet').to.equal(undefined);
      const fault = commitFaults(dev);
      fault.failing = true;
      await dev.read(MiB, 4096).catch(() => undefined);
      await dev.flush().catch(() => undefined);
      const failing = dev.status().storeFailure;
      expect(failing?.message).to.match(/disk I\/O error/);
      expect(failing?.ongoing).to.equal(true);
      expect(Date.parse(failing?.at ?? '')).to.be.closeTo(Date.now(), 60_000);
      fault.failing = false;
      await dev.read(2 * MiB, 4096);
      expect(dev.status().storeFailure, 'the latest failure stays, no longer ongoing').to.deep.equal({ ...failing, ongoing: false });
    });
  });

  describe('an acquisition that fails', () => {
    it('a lost source does not swallow the failed commit of the spans read before it: flush() (the unmount) reports that', async () => {
      const img = patternBuffer(8 * MiB, 6);
      // The first 4 MiB span is read and written behind; the next read finds the source gone.
      class LostAfter4MiB extends MemorySource {
        override async read(offset: number, length: number): Promise<Buffer> {
          if (offset >= 4 * MiB) throw new SourceLostError('source lost (test)');
          return super.read(offset, length);
        }
      }
      dev = await openCache({ source: new LostAfter4MiB(img), cacheDir: path.join(tmp, 'c') });
      const cachedBefore = dev.status().bytesCached;
      commitFaults(dev).failing = true;
      const failed = await dev.acquire({ streamBytes: 4 * MiB, concurrency: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed, 'the acquisition reports the lost source').to.be.instanceOf(SourceLostError);
      expect(dev.status().bytesCached, "the span read before it was not recorded (its commit failed)").to.equal(cachedBefore);
      const flushed = await dev.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(flushed, 'that failure is still reported').to.be.instanceOf(Error);
      expect((flushed as Error).message).to.match(/disk I\/O error/);
    });
  });

  describe('after a failed fdatasync', () => {
    // A writeback error may drop the pages it failed to write (some file systems discard them): the data file then reads as it is on
    // disk (a hole: zeros) where uncommitted flights were written. Such bytes are not served: the reader gets an error.
    it('a reader of a flight written before the failure is not served the data file (its pages may be gone): an error, never zeros', async () => {
      const img = patternBuffer(16 * MiB, 7);
      dev = await openCache({ source: new MemorySource(img), cacheDir: path.join(tmp, 'c'), memoryBytes: 0 });
      const data = (dev as unknown as { store: { data: DataFile } }).store.data;
      const fh = (data as unknown as { fh: fs.promises.FileHandle }).fh;
      // The model of the failure: the next fdatasync waits for the test, then fails, and what was written since the
      // test began reads as zeros from then on.
      let fail!: () => void;
      const gate = new Promise<void>((r) => (fail = r));
      let failed = false;
      let syncing = false;
      fh.datasync = async () => {
        syncing = true;
        await gate;
        failed = true;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      };
      const written: [number, number][] = [];
      const write = data.write.bind(data);
      data.write = (offset, bytes) => (written.push([offset, offset + bytes.length]), write(offset, bytes));
      const lost = (target: Buffer, at: number, length: number, position: number) => {
        if (!failed) return;
        for (const [a, b] of written) {
          const from = Math.max(a, position);
          const to = Math.min(b, position + length);
          if (from < to) target.fill(0, at + from - position, at + to - position);
        }
      };
      const readInto = data.readInto.bind(data);
      data.readInto = async (target, at, length, position) => (await readInto(target, at, length, position), lost(target, at, length, position));
      const readIntoSync = data.readIntoSync.bind(data);
      data.readIntoSync = (target, at, length, position) => (readIntoSync(target, at, length, position), lost(target, at, length, position));

      // A's commit reaches the held fdatasync; B's 9 MiB are written meanwhile, more than the flights keep in memory,
      // so the oldest of B is served from the data file.
      await dev.read(MiB, MiB);
      void dev.commitPending();
      for (let i = 0; i < 100 && !syncing; i++) await new Promise((r) => setTimeout(r, 5));
      expect(syncing, "A's commit reached its fdatasync").to.equal(true);
      const b = 4 * MiB;
      for (let at = b; at < b + 9 * MiB; at += MiB) await dev.read(at, MiB);
      fail();
      for (let i = 0; i < 100 && !failed; i++) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setImmediate(r));
      const again = await dev.read(b, 64 * 1024).then(
        (r) => r.data,
        (e: unknown) => e,
      );
      expect(Buffer.isBuffer(again) && again.equals(Buffer.alloc(64 * 1024)), 'zeros served as the medium bytes').to.equal(false);
      expect(again).to.be.instanceOf(DataFileSyncError);
    });

    for (const code of ['EIO', 'ENOSPC']) it(`a failed fdatasync of the state's journal (${code}) is for good: later syncs, which would succeed over what it dropped, are not trusted; nothing more is recorded or read`, async () => {
      const img = patternBuffer(64 * MiB, 9);
      const src = new MemorySource(img);
      dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
      const cachedBefore = dev.status().bytesCached;
      // The WAL's next fdatasync fails once (EIO), as a disk that dropped its pages answers; the ones after succeed.
      const probe = await fs.promises.open(path.join(tmp, 'c', 'state.sqlite'), 'r');
      const proto = Object.getPrototypeOf(probe) as { datasync: (this: fs.promises.FileHandle) => Promise<void> };
      await probe.close();
      const real = proto.datasync;
      let failOnce = true;
      proto.datasync = function (this: fs.promises.FileHandle) {
        if (failOnce && fs.readlinkSync(`/proc/self/fd/${this.fd}`).endsWith('-wal')) {
          failOnce = false;
          return Promise.reject(Object.assign(new Error(`${code}: fdatasync`), { code }));
        }
        return real.call(this);
      };
      try {
        await dev.read(MiB, 64 * 1024); // answered; its commit's journal sync fails
        const failed = await dev.flush().then(() => undefined, (e: unknown) => e);
        expect(failed).to.be.instanceOf(JournalSyncError);
        expect((failed as Error).message).to.contain(`-wal failed (${code})`);
        const state = (dev as unknown as { store: { state: StateStore } }).store.state;
        expect(() => state.transaction(() => 1), 'no more transactions over that journal').to.throw(JournalSyncError);
        const reads = src.stats().reads;
        const later = await dev.read(32 * MiB, 64 * 1024).then(() => undefined, (e: unknown) => e);
        expect(later, 'a read of what is not cached, the journal failed earlier').to.be.instanceOf(JournalSyncError);
        expect(src.stats().reads, 'no device read').to.equal(reads);
        expect(dev.status().storeFailure, '/status: for good').to.include({ ongoing: true });
        expect(dev.status().bytesCached).to.be.at.least(cachedBefore);
      } finally {
        proto.datasync = real;
      }
    });

    it('a failed fdatasync during an acquisition ends it with the DataFileSyncError (exit 2, its reason), records nothing after it and stops reading the medium', async () => {
      const img = patternBuffer(64 * MiB, 8);
      const src = new MemorySource(img);
      dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
      const cachedBefore = dev.status().bytesCached;
      const fh = ((dev as unknown as { store: { data: DataFile } }).store.data as unknown as { fh: fs.promises.FileHandle }).fh;
      fh.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      const failed = await dev.acquire({ streamBytes: 4 * MiB }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failed).to.be.instanceOf(DataFileSyncError);
      expect((failed as DataFileSyncError).exitCode).to.equal(2);
      expect((failed as Error).message).to.match(/fdatasync of the cache data file .* failed \(EIO\)/);
      expect(dev.status().bytesCached, 'nothing recorded after it').to.equal(cachedBefore);
      expect(src.stats().bytes, 'the medium was not read on to its end').to.be.lessThan(img.length);
      expect(dev.status().storeFailure, '/status: for good').to.include({ ongoing: true });
    });
  });
});
