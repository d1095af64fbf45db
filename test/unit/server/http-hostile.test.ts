// The web page against requests that are not the user's: a DNS-rebinding name posing as loopback, and other
// sites' pages that make the browser fetch from the mount (which would set the medium reading).
import { expect } from 'chai';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import { HttpServer } from '../../../src/server/http-server';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory } from '../../../src/views/view';

const errors: string[] = [];
const quietLog = { info() {}, warn() {}, error: (m: string) => void errors.push(m) };

/** One raw request line: the status code of the reply. */
function rawStatus(url: string, line: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(`${line}\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
    let text = '';
    s.setEncoding('latin1').on('data', (d: string) => (text += d));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0))).on('error', reject);
  });
}

function request(url: string, headers: http.OutgoingHttpHeaders): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body })).on('error', reject);
      })
      .on('error', reject);
  });
}

describe('web page against hostile requests', () => {
  let server: HttpServer;
  let opened = 0;
  before(async () => {
    const counted = new GeneratedFileView(() => {
      opened++;
      return 'mapfile text\n';
    });
    const root = new StaticDirectory()
      .add('mapfile', counted)
      .add('rescued', new StaticDirectory().add('0123456789ab', new StaticDirectory().add('Über naïve.txt', new GeneratedFileView(() => 'x'))));
    server = await HttpServer.listen(
      { host: '127.0.0.1', port: 0 },
      { root, statusText: () => '{}', stateKey: () => '', mapPng: () => Buffer.alloc(0), mapSvg: () => '<svg/>', badAreas: () => [], log: quietLog },
    );
  });
  after(() => server.close());
  beforeEach(() => (opened = 0));

  it('a Host that only begins like a loopback address (a DNS-rebinding name such as 127.0.0.1.nip.io) is refused', async () => {
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1.nip.io:${port}`, `127.attacker.example:${port}`, `localhost.attacker.example:${port}`]) {
      const r = await request(`${server.url}mapfile`, { host });
      expect(r.status, host).to.equal(403);
    }
    expect(opened).to.equal(0);
    expect((await request(`${server.url}mapfile`, { host: `127.0.0.1:${port}` })).status).to.equal(200);
    expect((await request(`${server.url}mapfile`, { host: `localhost:${port}` })).status).to.equal(200);
  });

  it("another site's request (Sec-Fetch-Site cross-site or same-site) is refused before it opens anything", async () => {
    for (const site of ['cross-site', 'same-site']) {
      for (const p of ['mapfile', 'status.json', 'map.png', 'events']) {
        const r = await request(`${server.url}${p}`, { 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' });
        expect(r.status, `${site} ${p}`).to.equal(403);
      }
      // Even as a navigation: a link elsewhere must not start a download (the medium read for it).
      const nav = await request(`${server.url}mapfile`, { 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
      expect(nav.status, `${site} navigation to mapfile`).to.equal(403);
    }
    expect(opened).to.equal(0);
  });

  it('the page itself opens from a link elsewhere, and its own, typed and non-browser requests are served', async () => {
    const nav = await request(server.url, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
    expect(nav.status).to.equal(200);
    expect(nav.body).to.include('<title>blkfs rescue</title>');
    for (const site of ['same-origin', 'none', undefined]) {
      const r = await request(`${server.url}mapfile`, site ? { 'sec-fetch-site': site } : {});
      expect(r.status, String(site)).to.equal(200);
      expect(r.body).to.equal('mapfile text\n');
    }
  });

  it('a download keeps a non-ASCII file name (RFC 6266 filename*), with an ASCII fallback', async () => {
    const r = await request(`${server.url}rescued/0123456789ab/${encodeURIComponent('Über naïve.txt')}`, {});
    expect(r.status).to.equal(200);
    expect(r.headers['content-disposition']).to.equal(`attachment; filename="_ber_na_ve.txt"; filename*=UTF-8''%C3%9Cber%20na%C3%AFve.txt`);
  });
  it('a flood of idle connections is capped, so it cannot take the file descriptors the mount needs (its control socket, NBD, SQLite)', async () => {
    const port = Number(new URL(server.url).port);
    const socks: net.Socket[] = [];
    try {
      for (let i = 0; i < 400; i++) {
        const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')); // headers never finished
        s.on('error', () => {});
        socks.push(s);
      }
      await Promise.all(socks.map((s) => new Promise((r) => (s.connecting ? s.once('connect', r).once('close', r) : r(undefined)))));
      // The server closes those past its cap at once; on a busy machine the closes take a while to arrive here.
      const kept = () => socks.filter((s) => !s.destroyed && !s.readableEnded).length;
      for (let waited = 0; kept() > 128 && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      expect(kept(), 'connections the server keeps').to.be.at.most(128);
    } finally {
      for (const s of socks) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await request(`${server.url}mapfile`, {})).status, 'served again once the flood is gone').to.equal(200);
  });
  it('listening beyond loopback (--http 0.0.0.0:PORT), a Host that is a DNS name other than this machine is refused (DNS rebinding)', async () => {
    const wide = await HttpServer.listen(
      { host: '0.0.0.0', port: 0 },
      { root: new StaticDirectory(), statusText: () => '{}', stateKey: () => '', mapPng: () => Buffer.alloc(0), mapSvg: () => '', badAreas: () => [], log: quietLog },
    );
    try {
      const port = new URL(wide.url).port;
      const url = `http://127.0.0.1:${port}/status.json`;
      const me = os.hostname().split('.')[0];
      for (const host of [`rebind.attacker.example:${port}`, `${me}.attacker.example:${port}`, `localhost.attacker.example:${port}`])
        expect((await request(url, { host })).status, host).to.equal(403);
      for (const host of [`127.0.0.1:${port}`, `192.168.1.20:${port}`, `[fe80::1]:${port}`, `localhost:${port}`, `${me}:${port}`, `${me}.local:${port}`])
        expect((await request(url, { host })).status, host).to.equal(200);
    } finally {
      await wide.close();
    }
  });
  it('a request target no URL can be made of (GET //) is a 400, not an internal error in the log', async () => {
    errors.length = 0;
    for (const target of ['//', '//:99999/x']) expect(await rawStatus(server.url, `GET ${target} HTTP/1.1`), target).to.equal(400);
    expect(errors).to.deep.equal([]);
  });
  it('HEAD /events answers its head and ends, instead of holding a connection as a subscriber forever', async () => {
    const status = await Promise.race([rawStatus(server.url, 'HEAD /events HTTP/1.1'), new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
    expect(status).to.equal(200);
  });
  it('a Range request gets the whole file (200, Accept-Ranges: none): a resumed download must not join two states of the file', async () => {
    const r = await request(`${server.url}mapfile`, { range: 'bytes=5-' });
    expect(r.status).to.equal(200);
    expect(r.headers['accept-ranges']).to.equal('none');
    expect(r.body).to.equal('mapfile text\n');
  });
});
