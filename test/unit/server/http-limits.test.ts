// The web page against what would take the mount's resources or its user's medium: clients that stop reading a
// download, too many downloads at once, and other users of the machine reaching the loopback page.
import { expect } from 'chai';
import { execFile } from 'child_process';
import * as net from 'net';
import { HttpLimits, HttpServer } from '../../../src/server/http-server';
import { GeneratedFileView } from '../../../src/views/generated-file-view';
import { StaticDirectory } from '../../../src/views/view';

const BIG = Buffer.alloc(64 << 20, 0x5a); // far more than the socket buffers hold

async function serve(limits: HttpLimits, warnings: string[] = [], host = '127.0.0.1', file = BIG): Promise<HttpServer> {
  const root = new StaticDirectory().add('sbx', new StaticDirectory().add('image.sbx', new GeneratedFileView(() => file)));
  const log = { info() {}, warn: (m: string) => void warnings.push(m), error() {} };
  return HttpServer.listen({ host, port: 0 }, { root, statusText: () => '{}', stateKey: () => '', mapPng: () => Buffer.alloc(0), mapSvg: () => '', badAreas: () => [], log }, limits);
}

/** A client that asks for image.sbx and never reads the body: resolves with its socket and the status line. */
function stalledDownload(url: string): Promise<{ socket: net.Socket; statusLine: string; first: number }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET /sbx/image.sbx HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
    socket.once('data', (d: Buffer) => {
      socket.pause(); // takes nothing more
      resolve({ socket, statusLine: d.toString('latin1').split('\r\n')[0], first: d.length });
    });
    socket.once('error', reject);
  });
}

const closed = (s: net.Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('web page: limits on downloads and on who may use the page', function () {
  this.timeout(20_000);
  let server: HttpServer | undefined;
  afterEach(async () => server?.close());

  it('a download whose client stops reading is dropped after the stall time, not held forever', async () => {
    server = await serve({ downloadStallMs: 300 });
    const { socket, statusLine } = await stalledDownload(server.url);
    expect(statusLine).to.equal('HTTP/1.1 200 OK');
    await new Promise((r) => setTimeout(r, 1000)); // well past the stall time
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length)).on('error', () => undefined);
    socket.resume(); // reading again: what the server still had for it, then the end it was given
    await closed(socket);
    expect(received, 'bytes after the stall').to.be.below(BIG.length / 2);
  });

  it('a slow client that keeps reading is not taken for a stalled one: it gets the whole file', async () => {
    // The server sees progress when the system takes more of its bytes, which it does once a good part of the
    // socket's send buffer (up to 4 MiB) has gone: the client reads steadily, 256 KiB then 20 ms of nothing
    // (~12 MB/s), so that happens every ~0.2 s, well within the stall time, while the whole body takes twice as long.
    const file = Buffer.alloc(24 << 20, 0x33);
    const stallMs = 1000;
    server = await serve({ downloadStallMs: stallMs }, [], '127.0.0.1', file);
    const started = Date.now();
    const { socket, first } = await stalledDownload(server.url);
    let received = first;
    let sincePause = 0;
    socket.on('data', (d: Buffer) => {
      received += d.length;
      sincePause += d.length;
      if (sincePause < 256 << 10) return;
      sincePause = 0;
      socket.pause();
      setTimeout(() => socket.resume(), 20);
    });
    socket.resume();
    await closed(socket).catch(() => undefined);
    expect(received, 'bytes of the body and its head').to.be.above(file.length);
    expect(Date.now() - started, 'the download lasted longer than the stall time').to.be.above(stallMs);
  });

  it('beyond the downloads allowed at once, a new one is told 503 with Retry-After; one ending frees its place', async () => {
    server = await serve({ maxDownloads: 2 });
    const held = [await stalledDownload(server.url), await stalledDownload(server.url)];
    const third = await stalledDownload(server.url);
    expect(third.statusLine).to.equal('HTTP/1.1 503 Service Unavailable');
    third.socket.destroy();
    held[0].socket.destroy();
    await new Promise((r) => setTimeout(r, 200)); // the server sees it gone
    const again = await stalledDownload(server.url);
    expect(again.statusLine).to.equal('HTTP/1.1 200 OK');
    for (const s of [held[1], again]) s.socket.destroy();
  });

  it("on loopback another user of the machine is refused (403); the mount's user and root are served; with --allow-other anyone", async function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to run a client as another user
    const curlAs = (uid: number | undefined, url: string) =>
      new Promise<string>((resolve) => {
        const as = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
        const argv = [...as, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}status.json`];
        execFile(argv[0], argv.slice(1), (_e, stdout) => resolve(stdout));
      });
    const warnings: string[] = [];
    server = await serve({}, warnings);
    expect(await curlAs(65534, server.url), 'nobody').to.equal('403');
    expect(await curlAs(65534, server.url), 'nobody again').to.equal('403');
    expect(await curlAs(undefined, server.url), 'root, the mount user here').to.equal('200');
    expect(warnings.filter((w) => w.includes('uid 65534'))).to.have.length(1); // said once
    await server.close();
    server = await serve({ allowOther: true });
    expect(await curlAs(65534, server.url), 'nobody, --allow-other').to.equal('200');
    await server.close();
    server = await serve({}, [], '::ffff:127.0.0.1'); // IPv4 clients of it are listed in /proc/net/tcp, as IPv4
    expect(await curlAs(undefined, server.url.replace(/\[[^\]]+\]/, '127.0.0.1')), 'root, to ::ffff:127.0.0.1').to.equal('200');
    expect(await curlAs(undefined, server.url), 'root, by the address Node writes').to.equal('200');
  });
});
