// The control socket's fallback directory in the shared temp dir: a name another user could have taken first.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { prepareSocketDir } from '../../../src/server/control-protocol';

describe('server/control socket directory in the temp dir', () => {
  const made: string[] = [];
  const name = () => {
    const p = path.join(os.tmpdir(), `blkfs-test-${process.pid}-${made.length}`);
    made.push(p);
    return p;
  };
  after(() => {
    for (const p of made) fs.rmSync(p, { recursive: true, force: true });
  });

  it('is refused when it is a symlink (whose target the chmod would have changed)', () => {
    const target = name();
    fs.mkdirSync(target, { mode: 0o755 });
    const link = name();
    fs.symlinkSync(target, link);
    expect(() => prepareSocketDir(path.join(link, '1.ctl'))).to.throw(/not a directory of this user/);
    expect(fs.statSync(target).mode & 0o777).to.equal(0o755);
  });

  it("is refused when another user's directory is there first", function () {
    if (process.getuid?.() !== 0) this.skip(); // only root can give it to another user
    const dir = name();
    fs.mkdirSync(dir, { mode: 0o777 });
    fs.chownSync(dir, 65534, 65534);
    expect(() => prepareSocketDir(path.join(dir, '1.ctl'))).to.throw(/not a directory of this user/);
  });

  it('is made 0700 when missing, and accepted when it is ours', () => {
    const dir = name();
    prepareSocketDir(path.join(dir, '1.ctl'));
    expect(fs.lstatSync(dir).mode & 0o777).to.equal(0o700);
    prepareSocketDir(path.join(dir, '2.ctl'));
  });
});
