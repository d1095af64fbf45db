// One acquisition per mount: clients with the same ddrescue options share it, other options are refused (exit 1),
// and a joiner with no wish (blkfs archive) joins whatever runs.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import type { CachedDevice } from '../../../src/cache/cached-device';
import type { StateStore } from '../../../src/cache/state-store';
import { SourceLostError } from '../../../src/source/block-source';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';
import type { RescueScope } from '../../../src/cache/rescue-scope';
import { UserError } from '../../../src/errors';
import { AcquisitionRunner } from '../../../src/server/acquisition-runner';

describe('server/acquisition-runner: options of joined acquisitions', () => {
  const started: (RescueScope | undefined)[] = [];
  let finish: () => void = () => {};
  const runner = () =>
    new AcquisitionRunner({
      acquire: (o) => {
        started.push(o.scope);
        return new Promise((r) => (finish = () => r({ done: true })));
      },
    });

  it('the same options join the running acquisition; other options are refused with a UserError naming both', async () => {
    started.length = 0;
    const r = runner();
    const a = r.join({ noScrape: true });
    const b = r.join({ noScrape: true });
    expect(started).to.deep.equal([{ noScrape: true }]);
    expect(r.options).to.equal('-n');
    expect(() => r.join({})).to.throw(UserError, /other options is already running on this mount \(-n; asked: all phases, the whole medium\)/);
    expect(() => r.check({ noScrape: true, domain: { start: 0, end: 512 } })).to.throw(UserError);
    const archive = r.join(); // no wish: joins
    expect(started.length).to.equal(1);
    finish();
    expect(await a.result).to.deep.equal({ done: true });
    expect(await b.result).to.deep.equal({ done: true });
    await archive.result;
    expect(r.active).to.equal(false);
    r.join({ noTrim: true }); // once it ended, other options start their own
    expect(started[1]).to.deep.equal({ noTrim: true });
    finish();
  });

  it('a client arriving while the last one\'s acquisition stops gets a run of its own once it has ended, not the stopped one', async () => {
    const runs: { signal?: AbortSignal; end: () => void }[] = [];
    const r = new AcquisitionRunner({
      acquire: (o) => new Promise((resolve) => runs.push({ signal: o.signal, end: () => resolve({ run: runs.length, aborted: o.signal?.aborted }) })),
    });
    const first = r.join();
    first.detach(); // its only client left: it stops, waiting for a slow read in flight
    const second = r.join({ noScrape: true }); // other options are fine: the stopping run is no running one
    expect(runs.length).to.equal(1);
    runs[0].end();
    expect(await first.result).to.deep.equal({ run: 1, aborted: true });
    await new Promise((res) => setImmediate(res));
    expect(runs.length, 'a second acquisition started').to.equal(2);
    expect(runs[1].signal?.aborted).to.equal(false);
    runs[1].end();
    expect(await second.result).to.deep.equal({ run: 2, aborted: false });
    // once the server stops, a client waiting so starts nothing
    const third = r.join();
    third.detach();
    const fourth = r.join();
    const stopping = r.stop();
    runs[2].end();
    await stopping;
    expect(await fourth.result).to.deep.equal({ cancelled: true });
    expect(runs.length).to.equal(3);
  });

  it('the mount log gets each acquisition: its options when it starts, how long it took when it ends, stops or fails', async () => {
    const lines: string[] = [];
    let end: (ok: boolean) => void = () => {};
    const r = new AcquisitionRunner(
      { acquire: () => new Promise((resolve, reject) => (end = (ok) => (ok ? resolve({}) : reject(new SourceLostError('the source went away'))))) },
      (m) => lines.push(m),
    );
    const first = r.join({ noScrape: true });
    expect(lines).to.deep.equal(['acquisition (-n) started']);
    end(true);
    await first.result;
    expect(lines[1]).to.match(/^acquisition \(-n\) ended after \d+\.\d{3} s$/);
    const second = r.join();
    end(false);
    await second.result.catch(() => {});
    expect(lines[3]).to.match(/^acquisition \(all phases, the whole medium\) failed after \d+\.\d{3} s: the source went away$/);
    const third = r.join();
    third.detach(); // its only client leaves: the acquisition is stopped
    end(false);
    await third.result;
    expect(lines[5]).to.match(/^acquisition \(all phases, the whole medium\) stopped after \d+\.\d{3} s$/);
  });
});

describe('server/acquisition-runner: a failure while an acquisition is stopped', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-runner-'))));
  afterEach(async () => {
    await dev?.close().catch(() => undefined);
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("the unmount stopping an acquisition whose last spans' commit fails hears of it (its steps: stop, then flush)", async () => {
    let runner: AcquisitionRunner | undefined;
    let stopping: Promise<unknown> | undefined;
    // The unmount comes as the first span is being read: that span is written behind, its commit comes at the end.
    const src = new MemorySource(patternBuffer(8 * 1024 * 1024, 9), { delayMs: 20, onRead: () => void (runner && (stopping ??= runner.stop().then(() => 'ok', (e: unknown) => e))) });
    const cache = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    dev = cache;
    const state = (cache as unknown as { store: { state: StateStore } }).store.state;
    state.transactionDeferringSync = () => {
      throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
    };
    const before = { reads: src.stats().reads, cached: cache.status().bytesCached };
    runner = new AcquisitionRunner(cache);
    const client = runner.join();
    const answer = await client.result.then(
      (r) => r,
      (e: unknown) => e,
    );
    const stopped = await stopping;
    const flushed = await cache.flush().then(
      () => 'ok',
      (e: unknown) => e,
    );
    expect(src.stats().reads, 'a span was read').to.be.greaterThan(before.reads);
    expect(cache.status().bytesCached, 'and not recorded').to.equal(before.cached);
    expect([stopped, flushed].some((e) => e instanceof Error && /disk I\/O error/.test(e.message)), `unmount steps: ${String(stopped)}, ${String(flushed)}`).to.equal(true);
    expect(answer, 'its client is told the acquisition failed, not that it stopped').to.be.instanceOf(Error);
  });

  it('a read hung up on while stopping (a lost source) is the stop, not a failure', async () => {
    const lines: string[] = [];
    let end: () => void = () => {};
    const r = new AcquisitionRunner({ acquire: () => new Promise((_resolve, reject) => (end = () => reject(new SourceLostError('source lost: hung up')))) }, (m) => lines.push(m));
    const client = r.join();
    const stopping = r.stop();
    end();
    expect(await client.result).to.deep.equal({ cancelled: true });
    await stopping;
    expect(lines[1]).to.match(/ stopped after /);
  });
});
