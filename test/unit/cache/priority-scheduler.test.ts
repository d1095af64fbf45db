// The device's two priorities: foreground reads first; while narrowed, background reads hold one slot only.
import { expect } from 'chai';
import { PriorityScheduler, Promotable } from '../../../src/cache/priority-scheduler';

/** A task that runs until released: records when it started. */
function gate(started: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { task: () => (started.push(name), done), open };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('cache/priority scheduler', () => {
  it('while narrowed, background reads hold one slot; foreground reads take the others; widening starts the rest', async () => {
    const sched = new PriorityScheduler(4);
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
    const sched = new PriorityScheduler(2);
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
});
