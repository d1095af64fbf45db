// One acquisition per mount: clients with the same ddrescue options share it, other options are refused (exit 1),
// and a joiner with no wish (blkfs archive) joins whatever runs.
import { expect } from 'chai';
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

  it('the mount log gets each acquisition: its options when it starts, how long it took when it ends, stops or fails', async () => {
    const lines: string[] = [];
    let end: (ok: boolean) => void = () => {};
    const r = new AcquisitionRunner(
      { acquire: () => new Promise((resolve, reject) => (end = (ok) => (ok ? resolve({}) : reject(new Error('the source went away'))))) },
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
