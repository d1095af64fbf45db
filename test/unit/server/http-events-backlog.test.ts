// The web page's event stream: a client that stops reading (a suspended laptop's tab, a stuck proxy) must not
// make the server queue events for it without end over a mount that runs for days.
import { expect } from 'chai';
import * as net from 'net';
import { HttpServer } from '../../../src/server/http-server';
import { StaticDirectory } from '../../../src/views/view';

const quietLog = { info() {}, warn() {}, error() {} };

describe('web page event stream backlog', () => {
  it('a subscriber that never reads is dropped once its unsent events pile up, instead of being queued for without end', async function () {
    this.timeout(20000);
    let n = 0;
    // A state that changes at every look, 4 MiB at a time: the backlog grows fast enough to see in seconds.
    const server = await HttpServer.listen(
      { host: '127.0.0.1', port: 0 },
      {
        root: new StaticDirectory(),
        statusText: () => '{}',
        stateKey: () => `${n++}`.padEnd(4 * 1024 * 1024, '.'),
        mapPng: () => Buffer.alloc(0),
        mapSvg: () => '',
        badAreas: () => [],
        log: quietLog,
      },
    );
    try {
      const url = new URL(server.url);
      const sock = net.createConnection(Number(url.port), url.hostname);
      sock.on('error', () => {});
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      await new Promise<void>((r) => sock.once('connect', () => r()));
      sock.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      sock.pause(); // never reads: the kernel's buffers fill, then the server's own queue
      await new Promise((r) => setTimeout(r, 4000));
      sock.resume(); // drain what was sent: a dropped subscriber's stream then ends
      sock.on('data', () => {});
      const ended = await Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 4000))]);
      expect(ended, 'the server dropped the subscriber that did not read').to.equal(true);
      sock.destroy();
    } finally {
      await server.close();
    }
  });
});
