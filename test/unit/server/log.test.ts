import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Log } from '../../../src/server/log';
import { MediaError, SourceLostError } from '../../../src/source/block-source';
import { CacheFullError } from '../../../src/cache/errors';

describe('server/log', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-log-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an expected failure (source lost, bad sector, disk full) is one line with its message; an unexpected error keeps its stack', () => {
    const file = path.join(dir, 'mount.log');
    const log = new Log('info');
    log.toFile(file);
    log.error('read /raw', new SourceLostError('NBD server nbd+unix:///?socket=/x.sock is shutting down'));
    log.error('read /raw', new MediaError(4096, 512, 5));
    log.error('read /raw', new CacheFullError('/c/data.img'));
    log.error('read /raw', new TypeError("Cannot read properties of undefined (reading 'x')"));
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines[0]).to.match(/ERROR: read \/raw: NBD server nbd\+unix:\/\/\/\?socket=\/x\.sock is shutting down$/);
    expect(lines[1]).to.match(/ERROR: read \/raw: read error \(errno 5\) in 512 bytes at 4096$/);
    expect(lines[2]).to.match(/ERROR: read \/raw: cache disk full while writing \/c\/data\.img/);
    expect(lines[3]).to.match(/ERROR: read \/raw: TypeError: Cannot read properties of undefined/);
    expect(lines.length, 'the stack of the TypeError only').to.be.above(4);
    expect(lines.slice(4).every((l) => /^\s+at /.test(l))).to.equal(true);
  });
});
