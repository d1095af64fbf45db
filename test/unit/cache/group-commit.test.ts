import { expect } from 'chai';
import { GroupCommit } from '../../../src/cache/group-commit';
import { InflightRanges } from '../../../src/cache/single-flight';

const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cache/group-commit GroupCommit', () => {
  function recorder(fail?: (items: string[]) => boolean) {
    const batches: string[][] = [];
    const gc = new GroupCommit<string>(
      async (items) => {
        batches.push(items);
        await sleep(5);
        if (fail?.(items)) throw new Error('disk full');
      },
      { lazyDelayMs: 40, lazyBytes: 1000 },
    );
    return { gc, batches };
  }

  it('flushes urgent items at once, together with what queued in the same turn', async () => {
    const { gc, batches } = recorder();
    await Promise.all([gc.submit('a'), gc.submit('b')]);
    expect(batches).to.deep.equal([['a', 'b']]);
  });

  it('lazy items wait for company: flushed after the delay, at the byte threshold, or with an urgent item', async () => {
    const { gc, batches } = recorder();
    void gc.submit('lazy1', 100);
    await sleep(10);
    expect(batches, 'still waiting for company').to.deep.equal([]);
    await sleep(50);
    expect(batches).to.deep.equal([['lazy1']]);

    const big = gc.submit('lazy2', 600);
    await tick();
    void gc.submit('lazy3', 600);
    await big;
    expect(batches[1]).to.deep.equal(['lazy2', 'lazy3']);

    void gc.submit('lazy4', 10);
    await gc.submit('urgent');
    expect(batches[2]).to.deep.equal(['lazy4', 'urgent']);
  });

  it('settle() waits only for items submitted before it, and never rejects', async () => {
    const { gc, batches } = recorder((items) => items.includes('bad'));
    const bad = gc.submit('bad', 10).catch((e: Error) => e.message);
    const settled = gc.settle();
    await tick(); // after the drain's own setImmediate: the batch with 'bad' is being flushed
    const later = gc.submit('later', 10);
    await settled;
    expect(batches).to.deep.equal([['bad']]);
    expect(await bad).to.equal('disk full');
    await gc.idle();
    await later;
    expect(batches).to.deep.equal([['bad'], ['later']]);
  });
});

describe('cache/single-flight InflightRanges', () => {
  it('a flight covers its sectors until released; published bytes are visible to waiters before that', async () => {
    const f = new InflightRanges();
    const h = f.add(10, 20);
    const flight = f.covering(15);
    expect(flight && [flight.start, flight.end]).to.deep.equal([10, 20]);
    expect(f.covering(20)).to.equal(undefined);
    expect(f.nextStartAfter(0)).to.equal(10);
    let ready = false;
    void flight!.ready.then(() => (ready = true));
    await tick();
    expect(ready).to.equal(false);
    h.publish(Buffer.from('bytes'));
    await tick();
    expect(ready).to.equal(true);
    expect(flight!.data?.toString()).to.equal('bytes');
    let done = false;
    void flight!.done.then(() => (done = true));
    const settled = f.settled();
    h.release();
    await settled;
    expect(done).to.equal(true);
    expect(f.covering(15)).to.equal(undefined);
    expect(flight!.data, 'released: readers look at the committed state').to.equal(undefined);
  });
});
