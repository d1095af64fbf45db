// A download from the web page that the browser abandons must give its open snapshot back: a handle left open
// pins the size `stat` reports for that file on the mount (the newest open snapshot wins), so a mapfile aborted
// once in the browser would show a stale st_size under the mount forever.
import { expect } from 'chai';
import * as http from 'http';
import { HttpServer } from '../../../src/server/http-server';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory } from '../../../src/views/view';

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

describe('web page downloads (http-files streamView)', function () {
  this.timeout(20_000);

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
});
