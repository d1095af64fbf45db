// The metadata phase of a plain `blkfs acquire` runs alongside the passes (the production cache over an in-memory
// medium, the real rescue passes; the layout reader stands in for TSK on /raw: like TSK it reads through the cache at
// foreground priority, and stops when told). Its budget counts TSK's foreground reads, not the passes' background
// ones; any failed device read stops TSK; a cancel stops it without a word. TSK itself on a real mount:
// test/integration/files/files-metadata-budget.test.ts.
import { expect } from 'chai';
import type { MediumLayout } from '../../../src/files/layout';
import { LiveFileReport } from '../../../src/files/live-report';
import { TskStoppedError } from '../../../src/files/tsk-loaddb';
import type { ControlReply, ControlRequest } from '../../../src/server/control-protocol';
import type { ControlConnection } from '../../../src/server/control-server';
import { readMetadataAlongside } from '../../../src/server/metadata-alongside';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

const KiB = 1024;
const SIZE = 1024 * KiB;
const BUDGET = 64 * KiB;
const LAYOUT: MediumLayout = { filesystems: [{ offset: 0, type: 'fat16', blockSize: 512, size: SIZE }], free: [[]], problems: [], entries: [] };

function client() {
  const sent: ControlReply[] = [];
  const listeners: ((req: ControlRequest) => void)[] = [];
  let hangUp = () => {};
  const conn: ControlConnection = {
    send: (r) => void sent.push(r),
    closed: new Promise<void>((r) => (hangUp = r)),
    onRequest: (l) => void listeners.push(l),
    finish: async (r) => void sent.push(r),
  };
  const notes = () => sent.flatMap((r) => (r.type === 'progress' && r.note !== undefined ? [r.note] : []));
  return { conn, sent, notes, request: (req: ControlRequest) => listeners.forEach((l) => l(req)), hangUp: () => hangUp() };
}

/** Resolves when `signal` aborts, rejecting as a stopped TSK does. */
function stopped(signal: AbortSignal): Promise<never> {
  if (signal.aborted) return Promise.reject(new TskStoppedError());
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new TskStoppedError()), { once: true }));
}

describe('server/metadata-alongside: TSK reads the layout alongside the passes, within a budget of its own reads', () => {
  afterEach(closeMemoryCaches);

  it("the passes' reads of the whole medium do not spend TSK's budget: the layout is read, no note", async () => {
    const mem = await memoryCache(Buffer.alloc(SIZE, 7));
    let release = () => {};
    const acquired = new Promise<void>((r) => (release = r));
    // TSK reads a little, then goes on reading (from the cache) until the passes have read everything.
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async (_image, signal) => {
      await mem.cache.read(0, 16 * KiB, 'foreground');
      await Promise.race([acquired, stopped(signal)]);
      await mem.cache.read(512 * KiB, 256 * KiB, 'foreground');
      return LAYOUT;
    });
    const c = client();
    const phase = readMetadataAlongside(live, mem.cache, c.conn, { complete: true, budget: BUDGET });
    const result = await mem.cache.acquire();
    release();
    await phase;
    expect(result.bytesCached).to.equal(SIZE);
    expect(c.notes()).to.deep.equal([]);
    expect(live.status().files.layout).to.equal('ready');
    expect(c.sent[0]).to.deep.equal({ type: 'progress', bytesDone: 0, bytesTotal: 0, phase: 'metadata-alongside' });
    const s = mem.cache.status();
    expect(s.deviceBytes).to.equal(SIZE); // each byte once, whoever read it
    expect(s.foregroundBytes).to.equal(16 * KiB); // TSK's one device read; the rest came from the cache
    expect(mem.deviceReadsPerSector().filter((n) => n !== 1)).to.deep.equal([]);
  });

  it('TSK reading more than the budget itself is stopped, and the note says so and when the report is read', async () => {
    const mem = await memoryCache(Buffer.alloc(SIZE, 7));
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async (_image, signal) => {
      for (let at = 0; at < SIZE && !signal.aborted; at += 8 * KiB) await mem.cache.read(at, 8 * KiB, 'foreground');
      return stopped(signal);
    });
    const c = client();
    await readMetadataAlongside(live, mem.cache, c.conn, { complete: false, budget: BUDGET });
    expect(c.notes()).to.have.length(1);
    expect(c.notes()[0]).to.match(
      /^the filesystem metadata phase stopped after 0\.1 MiB read for it: The Sleuth Kit was reading more than the metadata \(on FAT: its orphan-file search, which reads every free cluster\); the file report is read when it is asked for \(blkfs files\)$/,
    );
    expect(live.status().files.layout).to.equal('not read');
    expect(mem.cache.status().foregroundBytes).to.be.within(BUDGET + 8 * KiB, BUDGET + 16 * KiB);
  });

  it("a failed device read by the passes stops TSK at once (the medium is failing: TSK must not read on in its own order)", async () => {
    const mem = await memoryCache(Buffer.alloc(SIZE, 7), { badSectors: [300] });
    let tskReads = 0;
    const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async (_image, signal) => {
      await mem.cache.read(0, 4 * KiB, 'foreground');
      tskReads++;
      return stopped(signal);
    });
    const c = client();
    const phase = readMetadataAlongside(live, mem.cache, c.conn, { complete: true, budget: BUDGET });
    await mem.cache.acquire();
    await phase;
    expect(tskReads).to.equal(1);
    expect(c.notes()).to.have.length(1);
    expect(c.notes()[0]).to.match(/stopped after 0\.0 MiB read for it: a device read failed, so the medium has bad areas: .*; the file report is read after the acquisition$/);
    expect(live.status().files.layout).to.equal('not read');
  });

  it('a cancel, the client leaving, or the failed acquisition (signal) stops TSK without a note', async () => {
    for (const how of ['cancel', 'leave', 'signal'] as const) {
      const mem = await memoryCache(Buffer.alloc(SIZE, 7));
      let started = () => {};
      const running = new Promise<void>((r) => (started = r));
      const live = new LiveFileReport(mem.cache, '/nowhere/raw', () => {}, async (_image, signal) => {
        started();
        return stopped(signal);
      });
      const c = client();
      const abort = new AbortController();
      const phase = readMetadataAlongside(live, mem.cache, c.conn, { complete: true, budget: BUDGET, signal: abort.signal });
      await running;
      if (how === 'cancel') c.request({ cmd: 'cancel' });
      else if (how === 'leave') c.hangUp();
      else abort.abort();
      await phase;
      expect(c.notes(), how).to.deep.equal([]);
      expect(live.status().files.layout, how).to.equal('not read');
    }
  });
});
