// The /raw hot path's memory side: prefetched bytes are served from memory (within a bound), prefetch buffers are
// reused only once nothing can see them, and cached bytes are answered at once while the data file is fast.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache, OpenCacheOptions } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { DataFile } from '../../../src/cache/data-file';
import { SectorStore } from '../../../src/cache/sector-store';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

/** A source that scribbles over each buffer it is given to fill before filling it (as one writing into it over time). */
class PoisoningSource extends MemorySource {
  readonly intoBuffers = new Set<ArrayBufferLike>();
  intoReads = 0;
  async readInto(offset: number, target: Buffer): Promise<Buffer> {
    target.fill(0xee);
    this.intoBuffers.add(target.buffer);
    this.intoReads++;
    (await this.read(offset, target.length)).copy(target);
    return target;
  }
}

const KiB = 1024;
const MiB = 1024 * KiB;
const REQ = 128 * KiB;

describe('cache/readahead memory and the hot path', () => {
  let tmp: string;
  const open: CachedDevice[] = [];
  const restore: (() => void)[] = [];
  beforeEach(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-ra-memory-');
  });
  afterEach(async () => {
    for (const r of restore.splice(0)) r();
    for (const d of open.splice(0)) await d.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  async function openDev(src: MemorySource, extra: Partial<OpenCacheOptions> = {}): Promise<CachedDevice> {
    const dev = await openCache({ source: src, cacheDir: path.join(tmp, `c${open.length}`), ...extra });
    open.push(dev);
    src.resetCounts();
    return dev;
  }
  const storeOf = (dev: CachedDevice) => (dev as unknown as { store: SectorStore }).store;
  /** Counts calls of `proto[name]` (restored after the test). */
  function spy<T extends object>(proto: T, name: keyof T & string, when: (...args: unknown[]) => boolean = () => true): { calls: number } {
    const counter = { calls: 0 };
    const original = proto[name] as unknown as (...args: unknown[]) => unknown;
    (proto as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      if (when(...args)) counter.calls++;
      return original.apply(this, args);
    };
    restore.push(() => ((proto as Record<string, unknown>)[name] = original));
    return counter;
  }
  async function readSequentially(dev: CachedDevice, from: number, to: number, each?: () => void): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (let at = from; at < to; at += REQ) {
      const target = Buffer.alloc(Math.min(REQ, to - at));
      const r = await dev.readInto(at, target, 'foreground');
      expect(r.bytes, `short read at ${at}`).to.equal(target.length);
      chunks.push(target);
      each?.();
    }
    return Buffer.concat(chunks);
  }

  it('a sequential reader is served prefetched bytes from memory, never from the data file before their commit', async () => {
    const img = patternBuffer(40 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src, { readaheadBytes: 16 * MiB }); // a window twice the store's default held bytes
    const fromDataFile = spy(SectorStore.prototype, 'readWrittenInto');
    const fromDataFileNow = spy(SectorStore.prototype, 'readNow', (...args) => args[4] === false);
    let furthest = 0;
    const got = await readSequentially(dev, 0, 40 * MiB, () => (furthest = Math.max(furthest, dev.status().prefetchReads)));
    expect(got.equals(img)).to.equal(true);
    expect(dev.status().prefetchReads, 'it did prefetch').to.be.above(5);
    expect(fromDataFile.calls + fromDataFileNow.calls, 'uncommitted prefetched bytes read back from the data file').to.equal(0);
    await dev.flush();
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('held bytes stay within the window plus two reads, however far commits lag', async () => {
    const img = patternBuffer(48 * MiB);
    const window = 8 * MiB;
    const src = new MemorySource(img);
    const dev = await openDev(src, { readaheadBytes: window });
    let most = 0;
    await readSequentially(dev, 0, 48 * MiB, () => (most = Math.max(most, storeOf(dev).held.byteCount)));
    // the bound (window + 2 x 4 MiB reads), plus a prefetch and a reader's own read being written when sampled
    expect(most).to.be.at.most(window + 3 * 4 * MiB + MiB);
    expect(most, 'something was held').to.be.above(0);
  });

  it('reused prefetch buffers never show a reader anything but the medium\'s bytes', async () => {
    const img = patternBuffer(48 * MiB);
    // The source scribbles over each buffer it is given before filling it: a buffer reused while a flight still
    // published it would hand a reader 0xee bytes.
    const src = new PoisoningSource(img, { delayMs: 1 });
    const dev = await openDev(src, { readaheadBytes: 4 * MiB });
    const [lead, trailing] = await Promise.all([
      readSequentially(dev, 0, 48 * MiB),
      (async () => {
        await new Promise((r) => setTimeout(r, 20)); // starts behind the first reader, in its flights
        return readSequentially(dev, 0, 48 * MiB);
      })(),
    ]);
    expect(lead.equals(img), 'first reader').to.equal(true);
    expect(trailing.equals(img), 'trailing reader').to.equal(true);
    await dev.flush();
    expect(src.maxReadsOfGoodSector()).to.equal(1);
    expect(src.intoReads, 'prefetches read into buffers of their own').to.equal(dev.status().prefetchReads);
    expect(src.intoBuffers.size, 'and reused them').to.be.below(src.intoReads / 2);
  });

  it('cached bytes are answered at once; a slow pread sends reads back to the threadpool for a while', async () => {
    const img = patternBuffer(4 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    await readSequentially(dev, 0, 2 * MiB);
    await dev.flush(); // now '+'
    const t = Buffer.alloc(REQ);
    const warm = dev.readInto(MiB, t);
    expect(warm, 'no promise: the bytes were at hand').to.deep.equal({ bytes: REQ });
    expect(t.equals(img.subarray(MiB, MiB + REQ))).to.equal(true);
    const original = DataFile.prototype.readIntoSync;
    restore.push(() => (DataFile.prototype.readIntoSync = original));
    DataFile.prototype.readIntoSync = function (...args) {
      const until = performance.now() + 5; // a data file that is not in the page cache
      while (performance.now() < until);
      return original.apply(this, args);
    };
    expect(dev.readInto(0, t), 'the slow read itself is answered').to.deep.equal({ bytes: REQ });
    const after = dev.readInto(REQ, t);
    expect(after, 'then reads go through the threadpool').to.be.instanceOf(Promise);
    expect(await after).to.deep.equal({ bytes: REQ });
    expect(t.equals(img.subarray(REQ, 2 * REQ))).to.equal(true);
  });
});
