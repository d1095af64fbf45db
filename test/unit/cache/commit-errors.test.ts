// How a failed group commit reaches someone. A reader answered before its commit (early) never hears of that
// commit's failure: flush()/close() (the unmount, the end of an acquisition) report it, once. The fault is injected
// in the state store's transaction (what a full or failing disk does to SQLite's commit).
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
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

describe('cache/commit errors: a failed commit is reported to someone', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-commit-errors-'))));
  afterEach(async () => {
    await dev?.close().catch(() => undefined);
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

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
});

describe('cache/commit errors: an acquisition that fails', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-commit-errors-'))));
  afterEach(async () => {
    await dev?.close().catch(() => undefined);
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

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
