import { expect } from 'chai';
import { LoggedBlockSource, ReadLogger } from '../../../src/source/logged-block-source';
import { MemorySource } from '../../helpers/memory-source';

function recorder(debug = false): ReadLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    error: (m) => lines.push(`E ${m}`),
    warn: (m) => lines.push(`W ${m}`),
    debug: (m) => lines.push(`D ${m}`),
    enabled: () => debug,
  };
}

describe('LoggedBlockSource', () => {
  it('logs a device error with offset, length, errno and duration, and still rejects', async () => {
    const log = recorder();
    const src = new LoggedBlockSource(new MemorySource(Buffer.alloc(8192), { badSectors: [3] }), log);
    let failed = false;
    await src.read(1024, 2048).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect(log.lines).to.have.length(1);
    expect(log.lines[0]).to.match(/^E device error: offset 1024 length 2048 errno 5 \(EIO\) after \d+ ms$/);
  });

  it('logs a read slower than the threshold as a warning, and a fast one only at debug level', async () => {
    const slow = recorder();
    await new LoggedBlockSource(new MemorySource(Buffer.alloc(4096), { delayMs: 30 }), slow, 20).read(0, 512);
    expect(slow.lines).to.have.length(1);
    expect(slow.lines[0]).to.match(/^W slow read: offset 0 length 512 took \d+ ms$/);
    const quiet = recorder();
    await new LoggedBlockSource(new MemorySource(Buffer.alloc(4096)), quiet).read(0, 512);
    expect(quiet.lines).to.deep.equal([]);
    const chatty = recorder(true);
    const buf = await new LoggedBlockSource(new MemorySource(Buffer.alloc(4096, 9)), chatty).read(512, 512);
    expect(buf.equals(Buffer.alloc(512, 9))).to.equal(true);
    expect(chatty.lines[0]).to.match(/^D read: offset 512 length 512/);
  });

  it('a read the medium does not answer is logged while it waits, less and less often, and no more once answered', async () => {
    const log = recorder();
    // Answered after 250 ms; reminders after about 20, 60 and 140 ms (each wait twice the last).
    await new LoggedBlockSource(new MemorySource(Buffer.alloc(4096), { delayMs: 250 }), log, 5, 20).read(1024, 512);
    const pending = log.lines.filter((l) => l.startsWith('W read still pending: offset 1024 length 512, waiting for the medium for '));
    expect(pending.length).to.be.within(2, 3);
    expect(log.lines.at(-1)).to.match(/^W slow read: offset 1024 length 512 took \d+ ms$/);
    const after = log.lines.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(log.lines.length, 'nothing more once answered').to.equal(after);
  });

  it('tells a run of transient server failures once, and once when reads work again', async () => {
    const log = recorder();
    const mem = new MemorySource(Buffer.alloc(8192));
    const src = new LoggedBlockSource(mem, log);
    mem.transient = 'ENOMEM';
    for (let i = 0; i < 5; i++) await src.read(i * 512, 512).catch(() => undefined);
    expect(log.lines).to.have.length(1);
    expect(log.lines[0]).to.match(/^E server failed a read with ENOMEM \(test\) after \d+ ms: not a bad sector, nothing is recorded/);
    mem.transient = undefined;
    await src.read(0, 512);
    await src.read(512, 512);
    expect(log.lines.slice(1)).to.deep.equal(['W reads work again after 5 failed for a passing reason (their sectors stay untried and are read when asked)']);
  });
});
