// The FUSE glue without a mount: fuse-native's callback operations called directly.
import { expect } from 'chai';
import * as os from 'os';
import { buildFuseOps } from '../../../src/fs/fuse-ops';
import { FuseOps, FuseStat } from '../../../src/fs/fuse-binding';
import { errnoNameOf } from '../../../src/fs/errno';
import { Router } from '../../../src/fs/router';
import { MediaError, SourceLostError } from '../../../src/nbd/block-source';
import { TextSnapshotView } from '../../../src/views/text-snapshot-view';
import { StaticDirectory, View, ViewErrno } from '../../../src/views/view';

const E = os.constants.errno;

function call<T extends unknown[]>(fn: (cb: (...r: T) => void) => void): Promise<T> {
  return new Promise((resolve) => fn((...r: T) => resolve(r)));
}

describe('fs/fuse-ops', () => {
  let ops: FuseOps;
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

  before(() => {
    const sub = new StaticDirectory().add('inner', new TextSnapshotView(() => 'x'));
    const root = new StaticDirectory().add('hello', new TextSnapshotView(() => 'hello world\n')).add('dir', sub).add('lost', failing);
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

  it('turns a failing view into an errno (a lost source is ENXIO) and logs it', async () => {
    const [, fd] = await call<[number, number?]>((cb) => ops.open!('/lost', 0, cb));
    const [n] = await call<[number]>((cb) => ops.read!('/lost', fd!, Buffer.alloc(4), 4, 0, cb));
    expect(n).to.equal(-E.ENXIO);
    expect(logged.length).to.equal(1);
  });

  it('has one errno table: view answers, bad sectors, lost sources, anything else', () => {
    expect(errnoNameOf(new ViewErrno('ENOENT'))).to.equal('ENOENT');
    expect(errnoNameOf(new MediaError(0, 512, 5))).to.equal('EIO');
    expect(errnoNameOf(new SourceLostError('x'))).to.equal('ENXIO');
    expect(errnoNameOf(Object.assign(new Error('full'), { code: 'ENOSPC' }))).to.equal('EIO');
  });
});
