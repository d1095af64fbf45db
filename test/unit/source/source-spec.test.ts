import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { nbdTargetUri, parseSourceArg, SourceArgError } from '../../../src/source/source-spec';

describe('nbd/source-spec parseSourceArg', () => {
  let dir: string;
  let image: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-spec-'));
    image = path.join(dir, 'disk.img');
    fs.writeFileSync(image, Buffer.alloc(4096));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an image file is a file source with an absolute path', () => {
    const rel = path.relative(process.cwd(), image);
    expect(parseSourceArg(rel)).to.deep.equal({ kind: 'file', path: image });
  });

  it('a block device is a device source', function () {
    const dev = ['/dev/vda', '/dev/sda', '/dev/loop0', '/dev/nvme0n1'].find((p) => fs.existsSync(p) && fs.statSync(p).isBlockDevice());
    if (!dev) this.skip();
    expect(parseSourceArg(dev!)).to.deep.equal({ kind: 'device', path: dev });
  });

  const uris: [string, object][] = [
    ['nbd://example.com', { host: 'example.com', port: 10809, exportName: '' }],
    ['nbd://example.com/', { host: 'example.com', port: 10809, exportName: '' }],
    ['nbd://127.0.0.1:10900/disk', { host: '127.0.0.1', port: 10900, exportName: 'disk' }],
    ['nbd://[::1]:5000/a%2Fb', { host: '::1', port: 5000, exportName: 'a/b' }],
    ['NBD://Host/x y', { host: 'Host', port: 10809, exportName: 'x y' }],
    ['nbd+unix:///?socket=/run/nbd.sock', { socket: '/run/nbd.sock', exportName: '' }],
    ['nbd+unix:///cdrom?socket=/tmp/a%20b.sock', { socket: '/tmp/a b.sock', exportName: 'cdrom' }],
  ];
  for (const [uri, target] of uris) {
    it(`parses ${uri}`, () => expect(parseSourceArg(uri)).to.deep.equal({ kind: 'nbd', target }));
  }

  it('nbdTargetUri round-trips through parseSourceArg', () => {
    for (const [uri] of uris) {
      const spec = parseSourceArg(uri);
      if (spec.kind !== 'nbd') throw new Error('not nbd');
      expect(parseSourceArg(nbdTargetUri(spec.target))).to.deep.equal(spec);
    }
  });

  const bad: [string, RegExp][] = [
    ['', /SOURCE is empty/],
    ['/nonexistent/blkfs/disk.img', /SOURCE not found: \/nonexistent\/blkfs\/disk.img/],
    ['/dev/null', /neither a block device nor a regular file/],
    ['nbds://host/x', /unsupported SOURCE URI scheme 'nbds:\/\/' \(TLS is not supported\)/],
    ['http://host/disk.img', /unsupported SOURCE URI scheme 'http:\/\/'/],
    ['nbd+vsock:///x', /unsupported SOURCE URI scheme/],
    ['nbd:///export', /NBD URI has no host/],
    ['nbd://host:99999/x', /malformed NBD URI/],
    ['nbd://host/x?tls-certificates=/etc', /unsupported query parameter in NBD URI: tls-certificates/],
    ['nbd://user@host/x', /must not carry a user/],
    ['nbd+unix:///export', /needs \?socket=PATH/],
    ['nbd+unix://host/export?socket=/s', /must have an empty host/],
    ['nbd+unix:///e?socket=/s&x=1', /unsupported query parameter in NBD URI: x/],
    ['nbd://host/%ZZ', /malformed NBD URI: bad %-escape in the export name/],
    ['nbd+unix:///%E0%A4?socket=/s', /malformed NBD URI: bad %-escape in the export name/],
  ];
  for (const [arg, message] of bad) {
    it(`rejects ${JSON.stringify(arg)} with SourceArgError`, () => {
      expect(() => parseSourceArg(arg)).to.throw(SourceArgError, message);
    });
  }

  it('rejects a directory', () => {
    expect(() => parseSourceArg(dir)).to.throw(SourceArgError, /is a directory/);
  });

  it('rejects a path through a regular file', () => {
    expect(() => parseSourceArg(path.join(image, 'x'))).to.throw(SourceArgError, /SOURCE not found/);
  });
});
