// The acquisition's write/commit pipeline: the copying pass keeps reading while its spans are written, and a
// group commit's waiters are answered only once the commit is durable (its WAL synced off the event loop).
import { expect } from 'chai';
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { DataFile } from '../../../src/cache/data-file';
import { StateStore } from '../../../src/cache/state-store';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';
import { seededInts } from '../../helpers/seeded-random';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replaces proto[name] until restore(): calls wait for open() (then run the original); restore() opens too. */
function hold<T extends object>(proto: T, name: keyof T) {
  const original = proto[name] as (...a: unknown[]) => Promise<unknown>;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let calls = 0;
  (proto as Record<keyof T, unknown>)[name] = async function (this: unknown, ...a: unknown[]) {
    calls++;
    await gate;
    return original.apply(this, a);
  };
  return {
    calls: () => calls,
    open,
    restore: () => {
      open();
      (proto as Record<keyof T, unknown>)[name] = original;
    },
  };
}

describe('cache/commit pipeline', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  const restores: (() => void)[] = [];
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-pipeline-'))));
  afterEach(async () => {
    restores.splice(0).forEach((r) => r());
    await dev?.close();
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the copying pass reads on while its spans are written: more reads than workers before any write ends, nothing "+" before its write', async () => {
    const img = patternBuffer(24 * MiB);
    const src = new MemorySource(img, { delayMs: 1 });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const before = src.log.length;
    const writes = hold(DataFile.prototype, 'write');
    restores.push(writes.restore);
    const acquiring = dev.acquire({ streamBytes: MiB, concurrency: 4 });
    for (let i = 0; i < 200 && src.log.length - before < 12; i++) await sleep(5);
    // Four workers, each of whose spans is still being written: without write-behind they would stop at 4 reads.
    expect(src.log.length - before).to.be.at.least(12);
    expect(writes.calls()).to.be.at.least(12);
    expect(dev.status().bytesCached, 'only the identity window is "+"').to.be.below(MiB);
    writes.open();
    const result = await acquiring;
    expect(result.bytesCached).to.equal(img.length);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    expect((await dev.read(0, img.length)).data.equals(img)).to.equal(true);
  });

  it('span buffers are reused across spans, and readers racing the pass get exactly the medium, never a reused buffer', async () => {
    const img = patternBuffer(32 * MiB);
    const targets = new Set<ArrayBufferLike>(); // the memory read into (a span cut short gets a view of a span buffer)
    let intoReads = 0;
    class IntoSource extends MemorySource {
      async readInto(offset: number, target: Buffer): Promise<Buffer> {
        targets.add(target.buffer);
        intoReads++;
        (await this.read(offset, target.length)).copy(target);
        return target;
      }
    }
    const src = new IntoSource(img, { delayMs: 1 });
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    const device = dev;
    const acquiring = device.acquire({ streamBytes: MiB, concurrency: 4 });
    const rnd = seededInts(7);
    const reader = async () => {
      await sleep(5); // once the pass has spans in flight
      for (let i = 0; i < 20; i++) {
        const at = rnd(img.length - 70_000);
        const len = 1 + rnd(70_000);
        const got = await device.read(at, len);
        expect(got.errorAt).to.equal(undefined);
        expect(got.data.equals(img.subarray(at, at + len)), `bytes ${at}+${len}`).to.equal(true);
      }
    };
    await Promise.all([acquiring, reader(), reader(), reader()]);
    expect(intoReads, 'the pass read spans into its buffers').to.be.at.least(8);
    expect(targets.size, 'fewer buffers than spans').to.be.below(intoReads);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    expect((await device.read(0, img.length)).data.equals(img)).to.equal(true);
  });

  it("a commit's waiters are answered only after the WAL is synced; other commits stay synchronous=FULL", async () => {
    const img = patternBuffer(4 * MiB);
    const src = new MemorySource(img);
    const dir = path.join(tmp, 'c');
    dev = await openCache({ source: src, cacheDir: dir });
    const syncs = hold(StateStore.prototype, 'syncJournal');
    restores.push(syncs.restore);
    const got = await dev.read(MiB, MiB); // answered before its commit
    expect(got.data.equals(img.subarray(MiB, 2 * MiB))).to.equal(true);
    let committed = false;
    const pending = dev.commitPending().then(() => (committed = true));
    for (let i = 0; i < 100 && syncs.calls() === 0; i++) await sleep(5);
    expect(syncs.calls(), 'the commit asked for the WAL sync').to.equal(1);
    await sleep(20);
    expect(committed, 'answered before the WAL was synced').to.equal(false);
    expect(dev.database().pragma('synchronous', { simple: true }), 'FULL for everyone else').to.equal(2);
    expect(fs.statSync(path.join(dir, 'state.sqlite-wal')).size, 'the commit is in the WAL').to.be.above(0);
    syncs.open();
    await pending;
    expect(committed).to.equal(true);
    await dev.close();
    dev = undefined;
    // The commit is in the database as it stands on disk.
    const db = new Database(path.join(dir, 'state.sqlite'), { readonly: true });
    const row = db.prepare('SELECT start, count, status FROM extents WHERE start <= ? ORDER BY start DESC LIMIT 1').get(MiB / 512) as { start: number; count: number; status: string };
    db.close();
    expect(row.status).to.equal('+');
    expect(row.start + row.count).to.be.at.least((2 * MiB) / 512);
  });
});
