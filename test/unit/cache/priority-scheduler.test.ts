// The device's two priorities: foreground reads first; while narrowed, background reads hold one slot only.
import { expect } from 'chai';
import { PriorityScheduler, Promotable, SLOW_MS_PER_MIB } from '../../../src/cache/priority-scheduler';

/** A task that runs until released: records when it started. */
function gate(started: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { task: () => (started.push(name), done), open };
}
const turn = () => new Promise((r) => setImmediate(r));

/** A scheduler whose background reads were slow (a 30 MB/s drive: 1 MiB in ~33 ms). */
async function slowDevice(concurrency: number): Promise<PriorityScheduler> {
  const sched = new PriorityScheduler(concurrency);
  await sched.run('background', () => new Promise((r) => setTimeout(r, 33)), undefined, 1 << 20);
  return sched;
}

describe('cache/priority scheduler', () => {
  it('while narrowed, background reads of a slow device hold one slot; foreground reads take the others; widening starts the rest', async () => {
    const sched = await slowDevice(4);
    const started: string[] = [];
    const widen = sched.narrowBackground();
    const bg = ['b1', 'b2', 'b3'].map((n) => gate(started, n));
    const runs = bg.map((g) => sched.run('background', g.task));
    const fg = gate(started, 'f1');
    runs.push(sched.run('foreground', fg.task));
    await turn();
    expect(started).to.deep.equal(['b1', 'f1']);
    bg[0].open();
    await turn();
    expect(started).to.deep.equal(['b1', 'f1', 'b2']);
    widen();
    await turn();
    expect(started).to.deep.equal(['b1', 'f1', 'b2', 'b3']);
    for (const g of [...bg, fg]) g.open();
    await Promise.all(runs);
  });

  it('a queued background read promoted while narrowed starts in a free slot as foreground', async () => {
    const sched = await slowDevice(2);
    const started: string[] = [];
    sched.narrowBackground();
    const [b1, b2] = ['b1', 'b2'].map((n) => gate(started, n));
    const ticket: Promotable = { promote: () => undefined };
    const runs = [sched.run('background', b1.task), sched.run('background', b2.task, ticket)];
    await turn();
    expect(started).to.deep.equal(['b1']);
    ticket.promote();
    await turn();
    expect(started).to.deep.equal(['b1', 'b2']);
    b1.open();
    b2.open();
    await Promise.all(runs);
  });

  it(`narrowed, a fast device (background reads under ${SLOW_MS_PER_MIB} ms per MiB) keeps every slot for them`, async () => {
    const sched = new PriorityScheduler(4);
    await sched.run('background', async () => undefined, undefined, 64 << 20);
    const started: string[] = [];
    sched.narrowBackground();
    const bg = ['b1', 'b2', 'b3'].map((n) => gate(started, n));
    const runs = bg.map((g) => sched.run('background', g.task));
    await turn();
    expect(started).to.deep.equal(['b1', 'b2', 'b3']);
    for (const g of bg) g.open();
    await Promise.all(runs);
  });
});
