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

  it('the mount log is bounded: it rotates to mount.log.1 at its size, keeps the last lines, and each file begins with the session\'s first lines', () => {
    const file = path.join(dir, 'mount.log');
    const log = new Log('info', { maxFileBytes: 4096 });
    log.toFile(file);
    log.info('started: blkfs mount /dev/sr0 /mnt/disk --retries 3');
    log.info('serving /dev/sr0 (700000000 bytes, 2048-byte sectors) on /mnt/disk, cache /c');
    for (let i = 0; i < 2000; i++) log.error(`device error: offset ${i * 2048} length 2048 errno 5 (EIO) after 9000 ms`);
    log.info('stopped (exit 0)');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['mount.log', 'mount.log.1']);
    for (const f of ['mount.log', 'mount.log.1']) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      expect(Buffer.byteLength(text), f).to.be.at.most(4096);
      expect(text, f).to.include('started: blkfs mount /dev/sr0 /mnt/disk --retries 3');
      expect(text, f).to.include('serving /dev/sr0');
    }
    const last = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(last[last.length - 1]).to.match(/stopped \(exit 0\)$/);
    expect(last[last.length - 2]).to.match(/device error: offset 4093952 /);
    expect(fs.readFileSync(file, 'utf8')).to.match(/log rotated: earlier lines are in mount\.log\.1/);
  });

  it('a mount log left over-size by an earlier session is rotated when the next one opens it; its own lines stay intact', () => {
    const file = path.join(dir, 'mount.log');
    fs.writeFileSync(file, 'old session line\n'.repeat(400)); // 6800 bytes
    const log = new Log('info', { maxFileBytes: 4096 });
    log.toFile(file);
    log.info('serving again');
    expect(fs.readFileSync(`${file}.1`, 'utf8')).to.equal('old session line\n'.repeat(400));
    expect(fs.readFileSync(file, 'utf8')).to.match(/serving again\n$/);
  });

  it('one line larger than the bound (a long list of damaged ranges) is cut, saying how much was left out', () => {
    const file = path.join(dir, 'mount.log');
    const log = new Log('info', { maxFileBytes: 4096 });
    log.toFile(file);
    log.error(`verify: damaged ${'[1,2],'.repeat(5000)}`);
    const text = fs.readFileSync(file, 'utf8');
    expect(Buffer.byteLength(text)).to.be.at.most(4096);
    expect(text).to.match(/… \(\d+ more bytes of this line left out\)\n$/);
  });
});
