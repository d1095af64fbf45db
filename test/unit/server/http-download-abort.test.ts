// Downloads from the web page. One the browser abandons must give its open snapshot back: a handle left open
// pins the size `stat` reports for that file on the mount (the newest open snapshot wins), so a mapfile aborted
// once in the browser would show a stale st_size under the mount forever. One that cannot start (the medium is
// gone) gets a status that says so, not an empty reply or "internal error".
import { expect } from 'chai';
import * as http from 'http';
import { HttpServer } from '../../../src/server/http-server';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { FileAttr, StaticDirectory, View, ViewErrno } from '../../../src/views/view';
import { SourceLostError } from '../../../src/source/block-source';

const quietLog = { info() {}, warn() {}, error() {} };

async function serve(root: StaticDirectory): Promise<HttpServer> {
  return HttpServer.listen(
    { host: '127.0.0.1', port: 0 },
    { root, statusText: () => '{}', stateKey: () => '', mapPng: () => Buffer.alloc(0), mapSvg: () => '', badAreas: () => [], log: quietLog },
  );
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (await cond()) return true;
  return cond();
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body })).on('error', reject);
      })
      .on('error', reject);
  });
}

/** A file whose bytes need the medium, while the medium's source is gone (nbdkit died, an NBD server stopped). */
function lostSourceView(): View {
  return {
    kind: 'file',
    getattr: (): FileAttr => ({ size: 5 << 20, mode: 0o444, mtime: new Date() }),
    open: async () => ({}),
    read: async () => {
      throw new SourceLostError('NBD source nbd://127.0.0.1:10809 is lost');
    },
    release: async () => {},
  };
}

describe('web page downloads (http-files streamView)', function () {
  this.timeout(20_000);

  it('a download whose medium is gone answers 503 naming why, for a view that throws at open or at its first read', async () => {
    const root = new StaticDirectory()
      .add('mapfile', new GeneratedFileView(() => Promise.reject(new SourceLostError('NBD source nbd://127.0.0.1:10809 is lost'))))
      .add('sbx', new StaticDirectory().add('image.sbx', lostSourceView()));
    const server = await serve(root);
    try {
      for (const p of ['mapfile', 'sbx/image.sbx']) {
        const r = await get(`${server.url}${p}`);
        expect(r.status, p).to.equal(503);
        expect(r.body, p).to.match(/ENXIO.*nbd:\/\/127\.0\.0\.1:10809 is lost/);
      }
    } finally {
      await server.close();
    }
  });

  it('a download abandoned by the client releases its snapshot, so getattr shows the current size again', async () => {
    let text = 'x'.repeat(8 << 20); // far more than a socket takes at once: the server waits for drain
    const view = new GeneratedFileView(() => text);
    const server = await serve(new StaticDirectory().add('mapfile', view));
    try {
      await new Promise<void>((resolve, reject) => {
        const req = http.get(`${server.url}mapfile`, { headers: { host: '127.0.0.1' } }, (res) => {
          res.once('data', () => {
            req.destroy(); // the user closes the tab
            resolve();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
      });
      text = 'short now\n';
      expect(await until(async () => (await view.getattr()).size === text.length, 3000), 'st_size still that of the abandoned download').to.equal(true);
    } finally {
      await server.close();
    }
  });

  it('a whole download still gets every byte', async () => {
    const text = 'y'.repeat(3 << 20) + 'end\n';
    const server = await serve(new StaticDirectory().add('mapfile', new GeneratedFileView(() => text)));
    try {
      const body = await new Promise<Buffer>((resolve, reject) => {
        http.get(`${server.url}mapfile`, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
        });
      });
      expect(body.toString()).to.equal(text);
    } finally {
      await server.close();
    }
  });

  it('a download while a mount reader holds a larger snapshot of the file gets its own snapshot whole, with its length', async () => {
    let text = 'many blocks\n'.repeat(1000);
    const view = new GeneratedFileView(() => text);
    const server = await serve(new StaticDirectory().add('mapfile', view));
    const reader = await view.open(); // `less MNT/mapfile` opened before the map merged into fewer blocks
    try {
      text = 'few blocks\n';
      const r = await new Promise<{ length: string | undefined; body: string }>((resolve, reject) => {
        http
          .get(`${server.url}mapfile`, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ length: res.headers['content-length'], body })).on('error', reject);
          })
          .on('error', reject);
      });
      expect(r.body).to.equal(text);
      expect(r.length).to.equal(String(text.length));
    } finally {
      await view.release(reader);
      await server.close();
    }
  });
  it('a download never sends more or fewer bytes than its Content-Length: a view that reads on past it, or stops short, ends the response at it or aborts', async () => {
    /** A view whose reads disagree with the size it states: `bytes` in all, `size` stated. */
    const liar = (size: number, bytes: number): View => ({
      kind: 'file',
      getattr: (): FileAttr => ({ size, mode: 0o444, mtime: new Date() }),
      open: async () => ({}),
      read: async (_h, off, len) => Buffer.alloc(Math.max(0, Math.min(len, bytes - off)), 0x61),
      release: async () => {},
    });
    const server = await serve(new StaticDirectory().add('checksums', liar(1000, 3000)).add('mapfile', liar(3000, 1000)));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); // one connection: excess bytes would be read as the next reply
    const fetchOn = (p: string) =>
      new Promise<{ status: number; body: string; complete: boolean }>((resolve) => {
        http
          .get(`${server.url}${p}`, { agent }, (res) => {
            let body = '';
            res.setEncoding('utf8').on('data', (c: string) => (body += c));
            res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
          })
          .on('error', () => resolve({ status: 0, body: '', complete: false }));
      });
    try {
      const long = await fetchOn('checksums');
      expect(long.body.length).to.equal(1000);
      expect(long.complete).to.equal(true);
      const next = await fetchOn('status.json');
      expect(next.status).to.equal(200);
      expect(next.body).to.equal('{}');
      const short = await fetchOn('mapfile');
      expect(short.complete, 'a short download must not look complete').to.equal(false);
    } finally {
      agent.destroy();
      await server.close();
    }
  });
  it('a bad sector in the middle of a download aborts it: the bytes before it, then no clean end and no zeros', async () => {
    const view: View = {
      kind: 'file',
      getattr: (): FileAttr => ({ size: 3 << 20, mode: 0o444, mtime: new Date() }),
      open: async () => ({}),
      read: async (_h, off, len) => (off < 1 << 20 ? Buffer.alloc(Math.min(len, (1 << 20) - off), 0x61) : new ViewErrno('EIO')),
      release: async () => {},
    };
    const server = await serve(new StaticDirectory().add('sbx', new StaticDirectory().add('image.sbx', view)));
    try {
      const r = await new Promise<{ status: number; body: Buffer; complete: boolean }>((resolve) => {
        http.get(`${server.url}sbx/image.sbx`, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c)).on('error', () => {});
          res.on('close', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), complete: res.complete }));
        });
      });
      expect(r.status).to.equal(200);
      expect(r.complete).to.equal(false);
      expect(r.body.length).to.equal(1 << 20);
      expect(r.body.every((b) => b === 0x61)).to.equal(true);
    } finally {
      await server.close();
    }
  });
});
