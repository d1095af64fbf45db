// The FUSE glue without a mount: fuse-native's callback operations called directly.
import { expect } from 'chai';
import * as os from 'os';
import { buildFuseOps } from '../../../src/fuse/fuse-ops';
import { FuseStat } from '../../../src/fuse/fuse-binding';
import { errnoNameOf } from '../../../src/fuse/errno';
import { Router } from '../../../src/fuse/router';
import { MediaError, SourceLostError } from '../../../src/source/block-source';
import { CacheFullError } from '../../../src/cache/errors';
import { RawView } from '../../../src/views/raw-view';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory, View, ViewErrno } from '../../../src/views/view';

const E = os.constants.errno;

function call<T extends unknown[]>(fn: (cb: (...r: T) => void) => void): Promise<T> {
  return new Promise((resolve) => fn((...r: T) => resolve(r)));
}

describe('fs/fuse-ops', () => {
  let ops: ReturnType<typeof buildFuseOps>;
  const logged: unknown[] = [];
  const failing: View = {
    kind: 'file',
    getattr: () => ({ size: 10, mode: 0o444, mtime: new Date(0) }),
    open: async () => null,
    read: async () => {
      throw new SourceLostError('gone');
    },
    release: async () => {},
  };

  /** A medium of 4 sectors (bytes i mod 251) whose sector 2 is bad, answering like CachedDevice.readInto. */
  const medium = Buffer.from(Array.from({ length: 2048 }, (_, i) => i % 251));
  let committing: (() => void)[] = [];
  const device = {
    size: medium.length,
    sectorSize: 512,
    read: async () => {
      throw new Error('the glue must use readInto');
    },
    readInto: async (offset: number, target: Buffer) => {
      const stop = Math.min(offset + target.length, offset < 1536 ? 1024 : medium.length);
      const bytes = Math.max(0, stop - offset);
      medium.copy(target, 0, offset, offset + bytes);
      return bytes < target.length && offset + bytes < medium.length ? { bytes, errorAt: Math.max(offset, 1024) } : { bytes };
    },
    commitPending: () => new Promise<void>((r) => committing.push(r)),
  };

  before(() => {
    const sub = new StaticDirectory().add('inner', new GeneratedFileView(() => 'x'));
    const root = new StaticDirectory()
      .add('hello', new GeneratedFileView(() => 'hello world\n'))
      .add('dir', sub)
      .add('lost', failing)
      .add('raw', new RawView(device));
    ops = buildFuseOps(new Router(root), (_op, _p, err) => logged.push(err));
  });

  it('stats directories and read-only files', async () => {
    const [e1, root] = await call<[number, FuseStat?]>((cb) => ops.getattr!('/', cb));
    expect(e1).to.equal(0);
    expect(root!.mode).to.equal(0o040555);
    const [e2, file] = await call<[number, FuseStat?]>((cb) => ops.getattr!('/hello', cb));
    expect(e2).to.equal(0);
    expect(file!.mode).to.equal(0o100444);
    expect(file!.size).to.equal(12);
    expect((await call<[number]>((cb) => ops.getattr!('/nope', cb)))[0]).to.equal(-E.ENOENT);
    expect((await call<[number]>((cb) => ops.getattr!('/hello/x', cb)))[0]).to.equal(-E.ENOTDIR);
  });

  it('lists directories', async () => {
    const [e, names] = await call<[number, string[]?]>((cb) => ops.readdir!('/dir', cb));
    expect(e).to.equal(0);
    expect(names).to.deep.equal(['inner']);
  });

  it('refuses to open for writing (EROFS) and to open a directory (EISDIR)', async () => {
    expect((await call<[number]>((cb) => ops.open!('/hello', 1 /* O_WRONLY */, cb)))[0]).to.equal(-E.EROFS);
    expect((await call<[number]>((cb) => ops.open!('/hello', 2 /* O_RDWR */, cb)))[0]).to.equal(-E.EROFS);
    expect((await call<[number]>((cb) => ops.open!('/dir', 0, cb)))[0]).to.equal(-E.EISDIR);
  });

  it('creating, removing, renaming or linking anything is EROFS (a read-only filesystem), not ENOSYS', async () => {
    const answers = await Promise.all([
      call<[number]>((cb) => ops.create!('/new', 0o644, cb)),
      call<[number]>((cb) => ops.mknod!('/new', 0o644, 0, cb)),
      call<[number]>((cb) => ops.mkdir!('/newdir', 0o755, cb)),
      call<[number]>((cb) => ops.unlink!('/hello', cb)),
      call<[number]>((cb) => ops.rmdir!('/dir', cb)),
      call<[number]>((cb) => ops.rename!('/hello', '/bye', cb)),
      call<[number]>((cb) => ops.link!('/hello', '/again', cb)),
      call<[number]>((cb) => ops.symlink!('/hello', '/sym', cb)),
      call<[number]>((cb) => ops.chmod!('/hello', 0o777, cb)),
      call<[number]>((cb) => ops.chown!('/hello', 0, 0, cb)),
    ]);
    expect(answers.map((a) => a[0])).to.deep.equal(Array(10).fill(-E.EROFS));
  });

  it('reads through an open handle into the kernel buffer, and answers EBADF for an unknown one', async () => {
    const [e, fd] = await call<[number, number?]>((cb) => ops.open!('/hello', 0, cb));
    expect(e).to.equal(0);
    const buf = Buffer.alloc(5);
    const [n] = await call<[number]>((cb) => ops.read!('/hello', fd!, buf, 5, 6, cb));
    expect(n).to.equal(5);
    expect(buf.toString()).to.equal('world');
    expect((await call<[number]>((cb) => ops.release!('/hello', fd!, cb)))[0]).to.equal(0);
    expect((await call<[number]>((cb) => ops.read!('/hello', fd!, buf, 5, 0, cb)))[0]).to.equal(-E.EBADF);
  });

  it('/raw fills the kernel buffer itself: good bytes, a short read before a bad sector, then EIO', async () => {
    const [, fd] = await call<[number, number?]>((cb) => ops.open!('/raw', 0, cb));
    const buf = Buffer.alloc(700, 0xee);
    expect((await call<[number]>((cb) => ops.read!('/raw', fd!, buf, 700, 100, cb)))[0]).to.equal(700);
    expect(buf.equals(medium.subarray(100, 800))).to.equal(true);
    expect((await call<[number]>((cb) => ops.read!('/raw', fd!, buf, 700, 800, cb)))[0]).to.equal(224);
    expect(buf.subarray(0, 224).equals(medium.subarray(800, 1024))).to.equal(true);
    expect((await call<[number]>((cb) => ops.read!('/raw', fd!, buf, 700, 1024, cb)))[0]).to.equal(-E.EIO);
    expect((await call<[number]>((cb) => ops.read!('/raw', fd!, buf, 700, 2048, cb)))[0]).to.equal(0);
    expect((await call<[number]>((cb) => ops.release!('/raw', fd!, cb)))[0]).to.equal(0);
  });

  it('whole pages at a page boundary (maybe the kernel filling its page cache for an mmap) are EIO, not short, before the end of the file', async () => {
    const page = Buffer.alloc(4096);
    const [, raw] = await call<[number, number?]>((cb) => ops.open!('/raw', 0, cb));
    expect((await call<[number]>((cb) => ops.read!('/raw', raw!, page, 4096, 0, cb)))[0]).to.equal(-E.EIO);
    expect((await call<[number]>((cb) => ops.read!('/raw', raw!, page, 4095, 0, cb)))[0]).to.equal(1024);
    const [, hello] = await call<[number, number?]>((cb) => ops.open!('/hello', 0, cb));
    expect((await call<[number]>((cb) => ops.read!('/hello', hello!, page, 4096, 0, cb)))[0]).to.equal(12); // the end
  });

  it('close (FUSE flush) of /raw waits until what was read is committed; other files close at once', async () => {
    const [, fd] = await call<[number, number?]>((cb) => ops.open!('/raw', 0, cb));
    committing = [];
    let flushed: number | undefined;
    ops.flush('/raw', fd!, (e) => (flushed = e));
    await new Promise((r) => setImmediate(r));
    expect(flushed, 'close waits for the commit').to.equal(undefined);
    expect(committing.length).to.equal(1);
    committing[0]();
    await new Promise((r) => setImmediate(r));
    expect(flushed).to.equal(0);
    const [, fd2] = await call<[number, number?]>((cb) => ops.open!('/hello', 0, cb));
    expect((await call<[number]>((cb) => ops.flush('/hello', fd2!, cb)))[0]).to.equal(0);
  });

  it('a generated file opened before a media change keeps its size: st_size is not less than a snapshot still open on the path', async () => {
    // A media change gives the path another view (the new medium's /status), which knows nothing of open handles.
    let current = new GeneratedFileView(() => '{"medium":"A, with a longer status"}');
    const root = { kind: 'directory' as const, entries: async () => new Map([['status', current]]) };
    const o = buildFuseOps(new Router(root));
    const [, fd] = await call<[number, number?]>((cb) => o.open!('/status', 0, cb));
    current = new GeneratedFileView(() => '{"medium":"B"}');
    const [, st] = await call<[number, FuseStat?]>((cb) => o.getattr!('/status', cb));
    expect(st!.size).to.equal('{"medium":"A, with a longer status"}'.length); // Node's readFile of the open handle reads it whole
    await call<[number]>((cb) => o.release!('/status', fd!, cb));
    const [, after] = await call<[number, FuseStat?]>((cb) => o.getattr!('/status', cb));
    expect(after!.size).to.equal('{"medium":"B"}'.length);
  });

  it('turns a failing view into an errno (a lost source is ENXIO) and logs it', async () => {
    const [, fd] = await call<[number, number?]>((cb) => ops.open!('/lost', 0, cb));
    const [n] = await call<[number]>((cb) => ops.read!('/lost', fd!, Buffer.alloc(4), 4, 0, cb));
    expect(n).to.equal(-E.ENXIO);
    expect(logged.length).to.equal(1);
  });

  it('has one errno table: view answers, bad sectors, lost sources, a full cache disk, anything else', () => {
    expect(errnoNameOf(new ViewErrno('ENOENT'))).to.equal('ENOENT');
    expect(errnoNameOf(new MediaError(0, 512, 5))).to.equal('EIO');
    expect(errnoNameOf(new SourceLostError('x'))).to.equal('ENXIO');
    expect(errnoNameOf(new CacheFullError('/cache/data.img'))).to.equal('ENOSPC'); // not EIO: nothing was read
    expect(errnoNameOf(Object.assign(new Error('full'), { code: 'ENOSPC' }))).to.equal('EIO');
  });
});
