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
});
