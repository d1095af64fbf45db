import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache, OpenCacheOptions } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { MAX_READAHEAD_BYTES } from '../../../src/cache/readahead-limits';
import { PriorityScheduler, Promotable } from '../../../src/cache/priority-scheduler';
import { StreamTable, planSpan, prefetchChunkBytes } from '../../../src/cache/readahead';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const KiB = 1024;
const MiB = 1024 * KiB;
/** What FUSE hands /raw with direct I/O: one request of at most 128 KiB at a time. */
const REQ = 128 * KiB;

describe('cache/readahead planning', () => {
  it('a read continues a stream only when it starts exactly where a recent read ended', () => {
    const t = new StreamTable(2);
    expect(t.note(0, 100)).to.equal(undefined);
    expect(t.note(100, 200)?.endByte).to.equal(200);
    expect(t.note(150, 250), 'overlapping, not continuing').to.equal(undefined);
    expect(t.note(200, 300)?.endByte, 'the first stream still qualifies beside another reader').to.equal(300);
    expect(t.note(5000, 5100)).to.equal(undefined); // evicts the least recently used entry (ended at 250)
    expect(t.size).to.equal(2);
    expect(t.note(250, 260), 'evicted').to.equal(undefined);
  });

  const cases: { name: string; from: number; windowEnd: number; chunk: number; limit: number; want: [number, number] | undefined }[] = [
    { name: 'a whole chunk of untried sectors', from: 100, windowEnd: 1000, chunk: 256, limit: 5000, want: [100, 356] },
    { name: 'cut by a sector that is not untried (or in flight)', from: 100, windowEnd: 1000, chunk: 256, limit: 150, want: [100, 150] },
    { name: 'nothing when the first sector cannot be read ahead', from: 100, windowEnd: 1000, chunk: 256, limit: 100, want: undefined },
    { name: 'waits for room for a whole chunk in the window', from: 900, windowEnd: 1000, chunk: 256, limit: 5000, want: undefined },
    { name: 'takes a short tail when the medium (limit) ends there', from: 900, windowEnd: 1000, chunk: 256, limit: 1000, want: [900, 1000] },
    { name: 'nothing at or past the window end', from: 1000, windowEnd: 1000, chunk: 256, limit: 5000, want: undefined },
  ];
  for (const c of cases) {
    it(`planSpan: ${c.name}`, () => {
      expect(planSpan(c.from, c.windowEnd, c.chunk, (s) => Math.max(s, c.limit))).to.deep.equal(c.want);
    });
  }

  it('prefetch reads grow up to half the window, within 128 KiB..4 MiB, never more than the window', () => {
    expect(prefetchChunkBytes(MiB)).to.equal(512 * KiB);
    expect(prefetchChunkBytes(8 * MiB)).to.equal(4 * MiB);
    expect(prefetchChunkBytes(32 * MiB)).to.equal(4 * MiB);
    expect(prefetchChunkBytes(128 * KiB)).to.equal(128 * KiB);
    expect(prefetchChunkBytes(64 * KiB)).to.equal(64 * KiB);
  });

  it('a queued background task can be promoted ahead of other background work', async () => {
    const sched = new PriorityScheduler(1);
    const order: string[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = sched.run('background', async () => {
      await gate;
      order.push('running');
    });
    const other = sched.run('background', async () => void order.push('other'));
    const ticket: Promotable = { promote: () => {} };
    const promoted = sched.run('background', async () => void order.push('promoted'), ticket);
    ticket.promote();
    open();
    await Promise.all([first, other, promoted]);
    expect(order).to.deep.equal(['running', 'promoted', 'other']);
  });
});

describe('cache/readahead CachedDevice readaheadBytes', () => {
  let tmp: string;
  const open: CachedDevice[] = [];
  beforeEach(() => {
    tmp = fs.mkdtempSync(os.tmpdir() + '/blkfs-readahead-');
  });
  afterEach(async () => {
    for (const d of open.splice(0)) await d.close().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  async function openDev(src: MemorySource, extra: Partial<OpenCacheOptions> = {}, dir = 'c'): Promise<CachedDevice> {
    const dev = await openCache({ source: src, cacheDir: path.join(tmp, dir), ...extra });
    open.push(dev);
    src.resetCounts(); // forget the identity window read at creation
    return dev;
  }

  /** A /raw reader: REQ-sized requests one after another from `from` until `to`, a short read or EIO. */
  async function readSequentially(dev: CachedDevice, from: number, to: number, onRequest?: (end: number) => void) {
    const chunks: Buffer[] = [];
    let at = from;
    let errorAt: number | undefined;
    while (at < to) {
      const target = Buffer.alloc(Math.min(REQ, to - at));
      onRequest?.(at + target.length);
      const r = await dev.readInto(at, target, 'foreground');
      chunks.push(target.subarray(0, r.bytes));
      at += r.bytes;
      if (r.errorAt !== undefined) {
        errorAt = r.errorAt;
        break;
      }
    }
    return { data: Buffer.concat(chunks), errorAt };
  }

  /** Device reads made in the reader's own path (not readahead's). */
  const foregroundReads = (dev: CachedDevice, src: MemorySource) =>
    src.stats().reads + src.stats().failedReads - dev.status().prefetchReads - dev.status().prefetchFailedReads;

  it('is off by default: nothing is read beyond what was asked', async () => {
    const img = patternBuffer(4 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src);
    const got = await readSequentially(dev, MiB, 2 * MiB);
    expect(got.data.equals(img.subarray(MiB, 2 * MiB))).to.equal(true);
    await dev.flush();
    expect(src.stats().bytes).to.equal(MiB);
    for (const r of src.log) expect(r.offset >= MiB && r.offset + r.length <= 2 * MiB, `read at ${r.offset}`).to.equal(true);
    expect(dev.status().prefetchReads).to.equal(0);
    expect(foregroundReads(dev, src), 'one round trip per request').to.equal(MiB / REQ);
  });

  it('rejects a window that is negative, fractional, beyond the memory bound, or nonzero below 64 KiB (a sector or two per prefetch)', async () => {
    const src = new MemorySource(patternBuffer(MiB));
    for (const bad of [-1, 1.5, MAX_READAHEAD_BYTES + 1, 1, 512, 2048, 64 * KiB - 1]) {
      let err: unknown;
      await openCache({ source: src, cacheDir: path.join(tmp, 'x'), readaheadBytes: bad }).catch((e: unknown) => (err = e));
      expect(err, String(bad)).to.be.instanceOf(RangeError);
    }
  });

  it('a sequential reader: each sector read once, at most the window ahead, few round trips in its path', async () => {
    const img = patternBuffer(8 * MiB);
    const window = MiB;
    let readerEnd = 0;
    let furthestAhead = -Infinity;
    const src = new MemorySource(img, {
      delayMs: 2,
      onRead: (offset, length) => (furthestAhead = Math.max(furthestAhead, offset + length - readerEnd)),
    });
    const dev = await openDev(src, { readaheadBytes: window });
    const got = await readSequentially(dev, 0, 6 * MiB, (end) => (readerEnd = end));
    expect(got.data.equals(img.subarray(0, 6 * MiB))).to.equal(true);
    await dev.flush();
    for (let s = 128; s < (6 * MiB) / 512; s++) if (src.readsOfSector(s) !== 1) expect.fail(`sector ${s} read ${src.readsOfSector(s)} times`);
    expect(furthestAhead, 'device reads end at most the window past the latest request').to.be.at.most(window);
    expect(furthestAhead, 'it does read ahead').to.be.above(window / 2);
    for (let s = (6 * MiB + window) / 512; s < img.length / 512; s++) if (src.readsOfSector(s) !== 0) expect.fail(`sector ${s} read past the window`);
    // 48 requests: the first two start the stream, every later one finds its sectors prefetched.
    expect(foregroundReads(dev, src)).to.be.at.most(2);
    expect(dev.status().prefetchReads).to.be.within(10, 16); // one at a time, 512 KiB (half the window) each
    // what was prefetched is cached for good: reading it (not as a continuation of the stream) reads nothing
    src.resetCounts();
    expect((await dev.read(6 * MiB + 4096, 512 * KiB)).data.equals(img.subarray(6 * MiB + 4096, 6.5 * MiB + 4096))).to.equal(true);
    expect(src.stats().reads).to.equal(0);
  });

  it('a cached island in an untried stretch (an identity sample, metadata) does not stop readahead: it goes on past it within the window', async () => {
    const img = patternBuffer(8 * MiB);
    const window = MiB;
    const src = new MemorySource(img, { delayMs: 2 });
    const dev = await openDev(src, { readaheadBytes: window });
    const island = 2 * MiB + 256 * KiB;
    await dev.read(island, 4096);
    await dev.flush();
    src.resetCounts();
    // The reader stops at 2 MiB; readahead has time to fill its window, which the island splits.
    await readSequentially(dev, 0, 2 * MiB);
    await new Promise((r) => setTimeout(r, 100));
    await dev.flush();
    expect(src.readsOfSector(island / 512), 'the island is not read again').to.equal(0);
    const after = (island + 4096) / 512;
    expect(src.readsOfSector(after), 'the sectors after the island are prefetched before the reader gets there').to.equal(1);
    for (let s = (2 * MiB + window) / 512; s < img.length / 512; s++) if (src.readsOfSector(s) !== 0) expect.fail(`sector ${s} read past the window`);
    // and the reader goes on through it with every sector read once
    const got = await readSequentially(dev, 2 * MiB, 4 * MiB);
    expect(got.data.equals(img.subarray(2 * MiB, 4 * MiB))).to.equal(true);
    await dev.flush();
    for (let s = 128; s < (4 * MiB) / 512; s++) {
      const want = s >= island / 512 && s < (island + 4096) / 512 ? 0 : 1;
      if (src.readsOfSector(s) !== want) expect.fail(`sector ${s} read ${src.readsOfSector(s)} times`);
    }
  });

  it('yieldToReaders(): nothing is prefetched until resumed (the files-first phase reads in its own order)', async () => {
    const img = patternBuffer(8 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src, { readaheadBytes: MiB });
    const resume = dev.yieldToReaders();
    await readSequentially(dev, 0, 2 * MiB);
    await dev.flush();
    expect(dev.status().prefetchReads, 'suspended').to.equal(0);
    resume();
    await readSequentially(dev, 2 * MiB, 4 * MiB);
    await dev.flush();
    expect(dev.status().prefetchReads, 'resumed').to.be.above(0);
  });

  it('a random reader gets no readahead', async () => {
    const img = patternBuffer(16 * MiB);
    const src = new MemorySource(img);
    const dev = await openDev(src, { readaheadBytes: MiB });
    let x = 7;
    let asked = 0;
    for (let i = 0; i < 40; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const off = MiB + (x % 120) * 128 * KiB + 4096; // never where a previous read ended (those end at +4096+64K)
      const r = await dev.read(off, 64 * KiB);
      expect(r.data.equals(img.subarray(off, off + 64 * KiB))).to.equal(true);
      asked++;
    }
    await dev.flush();
    expect(asked).to.equal(40);
    expect(dev.status().prefetchReads + dev.status().prefetchFailedReads).to.equal(0);
    for (const r of src.log) expect(r.length).to.be.at.most(64 * KiB);
  });

  it('a bad sector ahead: the reader still gets its exact short read and EIO, and only that sector is "-"', async () => {
    const img = patternBuffer(4 * MiB);
    const bad = 3000; // byte 1536000, inside the reader's request at [1441792, 1572864)
    const results: { errorAt?: number; bytes: number; minus: number[]; failedPrefetches: number; badReads: number }[] = [];
    for (const readaheadBytes of [0, MiB]) {
      const src = new MemorySource(img, { badSectors: [bad], delayMs: 1 });
      const dev = await openDev(src, { readaheadBytes }, `c${readaheadBytes}`);
      const got = await readSequentially(dev, 0, 4 * MiB);
      expect(got.data.equals(img.subarray(0, bad * 512)), `short read (readahead ${readaheadBytes})`).to.equal(true);
      // the next request, where cp would go on, is EIO at once
      const next = await dev.readInto(bad * 512, Buffer.alloc(REQ), 'foreground');
      expect(next).to.deep.equal({ bytes: 0, errorAt: bad * 512 });
      await dev.flush();
      const minus = dev
        .extents()
        .filter((e) => e.status === '-')
        .flatMap((e) => Array.from({ length: e.count }, (_, i) => e.start + i));
      expect(src.maxReadsOfGoodSector()).to.equal(1);
      results.push({ errorAt: got.errorAt, bytes: got.data.length, minus, failedPrefetches: dev.status().prefetchFailedReads, badReads: src.readsOfSector(bad) });
    }
    const [off, on] = results;
    expect(off).to.deep.include({ errorAt: bad * 512, bytes: bad * 512, minus: [bad], failedPrefetches: 0 });
    expect(on).to.deep.include({ errorAt: bad * 512, bytes: bad * 512, minus: [bad], failedPrefetches: 1 });
    expect(on.badReads, 'readahead adds one failed device read over the bad area, no more').to.equal(off.badReads + 1);
  });

  it('two concurrent sequential readers both get readahead, and share it where they overlap', async () => {
    const img = patternBuffer(12 * MiB);
    const src = new MemorySource(img, { delayMs: 2 });
    const dev = await openDev(src, { readaheadBytes: MiB });
    const [a, b, c] = await Promise.all([
      readSequentially(dev, 0, 4 * MiB),
      readSequentially(dev, 6 * MiB, 10 * MiB),
      readSequentially(dev, 0, 4 * MiB), // a second copy of the same range at the same time
    ]);
    expect(a.data.equals(img.subarray(0, 4 * MiB))).to.equal(true);
    expect(b.data.equals(img.subarray(6 * MiB, 10 * MiB))).to.equal(true);
    expect(c.data.equals(img.subarray(0, 4 * MiB))).to.equal(true);
    await dev.flush();
    expect(src.maxReadsOfGoodSector(), 'each sector read from the device once').to.equal(1);
    for (let s = 128; s < (4 * MiB) / 512; s++) if (src.readsOfSector(s) !== 1) expect.fail(`sector ${s} read ${src.readsOfSector(s)} times`);
    // 96 requests over 8 MiB of distinct data: without readahead that is 64 device round trips for the readers
    expect(foregroundReads(dev, src)).to.be.at.most(8);
    expect(dev.status().prefetchReads).to.be.at.least(12); // 512 KiB each
  });

  it('never reads past the first bad sector of a region, and prefetches nothing within a window after it', async () => {
    const img = patternBuffer(24 * MiB);
    const window = 4 * MiB;
    const bad = (5 * MiB + 7 * 512) / 512;
    const src = new MemorySource(img, { badSectors: [bad], delayMs: 1 });
    const dev = await openDev(src, { readaheadBytes: window });
    const first = await readSequentially(dev, 0, 24 * MiB); // a reader that stops at EIO (cp, dd)
    expect(first.errorAt).to.equal(bad * 512);
    expect(first.data.equals(img.subarray(0, bad * 512))).to.equal(true);
    await dev.flush();
    const failed = src.log.filter((r) => !r.ok);
    expect(failed.length, 'the prefetch over the bad sector and the reader\'s own narrowing').to.be.at.least(1);
    for (const r of src.log) expect(r.offset, `a device read at ${r.offset} starts past the bad sector`).to.be.at.most(bad * 512);
    // a reader that goes on after the error (dd conv=noerror, ddrescue): no prefetch in the window after the bad sector
    const restart = (bad + 1) * 512;
    src.resetCounts();
    const second = await readSequentially(dev, restart, restart + 2 * window + MiB);
    expect(second.data.equals(img.subarray(restart, restart + 2 * window + MiB))).to.equal(true);
    await dev.flush();
    const near = src.log.filter((r) => r.offset < bad * 512 + window);
    for (const r of near) expect(r.length, `read at ${r.offset} within a window of the bad sector`).to.be.at.most(REQ);
    expect(src.log.some((r) => r.offset >= bad * 512 + window && r.length > REQ), 'prefetching resumes once the region is healthy').to.equal(true);
    expect(src.maxReadsOfGoodSector()).to.equal(1);
  });

  it('never marks a sector it did not read: a failed prefetch leaves its sectors untried, "+" only what was read', async () => {
    const img = patternBuffer(16 * MiB);
    const bad = [(6 * MiB) / 512 + 100, (6 * MiB) / 512 + 101];
    const src = new MemorySource(img, { badSectors: bad, delayMs: 1 });
    const dev = await openDev(src, { readaheadBytes: 8 * MiB });
    const got = await readSequentially(dev, 0, 16 * MiB);
    expect(got.errorAt).to.equal(bad[0] * 512);
    await dev.flush();
    expect(dev.status().prefetchFailedReads, 'a prefetch met the bad sectors').to.be.at.least(1);
    const okSectors = new Set<number>();
    for (const r of src.log) if (r.ok) for (let s = r.offset / 512; s < (r.offset + r.length) / 512; s++) okSectors.add(s);
    for (const e of dev.extents()) {
      for (let s = e.start; s < e.start + e.count; s++) {
        if (s < 128) continue; // the identity window, read when the cache was created
        if (e.status === '+' && !okSectors.has(s)) expect.fail(`sector ${s} is "+" but no good device read covered it`);
        if (e.status === '-' && !bad.includes(s)) expect.fail(`sector ${s} is "-" but it is good`);
      }
    }
    // only the reader decides what is bad: its own narrowing marked the first bad sector '-' and the rest of its
    // failed request '*' (failed, not trimmed); nothing of the failed prefetch past that request
    const requestEnd = (Math.floor((bad[0] * 512) / REQ) + 1) * (REQ / 512);
    expect(dev.extents().filter((e) => e.status === '-')).to.deep.equal([{ start: bad[0], count: 1, status: '-' }]);
    expect(dev.extents().filter((e) => e.status === '*' || e.status === '/')).to.deep.equal([{ start: bad[0] + 1, count: requestEnd - bad[0] - 1, status: '*' }]);
    expect(dev.extents().filter((e) => e.start >= requestEnd && e.status !== '?')).to.deep.equal([]);
  });

  it('close() during readahead drops what has not started, commits what was read, and reads nothing after', async () => {
    const img = patternBuffer(32 * MiB);
    const src = new MemorySource(img, { delayMs: 100 });
    const dev = await openDev(src, { readaheadBytes: 16 * MiB, concurrency: 2 });
    await readSequentially(dev, 0, 2 * REQ); // starts the stream: 16 MiB of 1 MiB prefetches, 2 at a time
    await dev.close(); // one or two prefetches are running (100 ms each), the rest are queued
    open.splice(open.indexOf(dev), 1);
    const log = [...src.log];
    expect(log.length, 'the reader\'s 2 reads and the running prefetches; queued ones were dropped').to.be.within(3, 6);
    expect(log.every((r) => r.ok)).to.equal(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(src.log.length, 'no device read after close()').to.equal(log.length);
    // everything read before close is durable and correct: nothing of it will be read again
    const again = await openDev(src, { readaheadBytes: 0 });
    const ss = 512;
    let cached = 0;
    for (const e of again.extents()) {
      if (e.status !== '+') continue;
      cached += e.count;
      const bytes = await again.readCachedBytes(e.start * ss, e.count * ss);
      expect(bytes.equals(img.subarray(e.start * ss, (e.start + e.count) * ss)), `sectors ${e.start}+${e.count}`).to.equal(true);
    }
    expect(cached * ss, 'the identity window and every device read').to.equal(64 * KiB + log.reduce((n, r) => n + r.length, 0));
  });
});
