import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { requireReadableFile } from '../../../src/cli/paths';
import { UserError } from '../../../src/errors';

describe('file arguments', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-args-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a missing file is "not found"', () => {
    expect(() => requireReadableFile(path.join(dir, 'none.map'), 'mapfile')).to.throw(UserError, /^mapfile not found: /);
  });

  it('a file that exists but cannot be reached says why (a dead blkfs mount gives ENOTCONN, a symlink loop ELOOP), not "not found"', () => {
    const loop = path.join(dir, 'loop.map');
    fs.symlinkSync(loop, loop);
    expect(() => requireReadableFile(loop, 'mapfile')).to.throw(UserError, /^mapfile cannot be read: .*loop\.map \(ELOOP\)$/);
  });
});
