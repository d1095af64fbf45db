import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { controlRequest } from '../../../src/server/control-client';
import { LineDecoder, LineTooLongError } from '../../../src/server/control-protocol';
import { ControlServer } from '../../../src/server/control-server';

/** Far beyond any limit: a peer that buffers without end would keep taking it. */
const FLOOD = 64 * 1024 * 1024;

describe('control socket line limit', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-ctl-limit-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the decoder refuses a line longer than its limit, whether it comes without a newline or in one piece', () => {
    const partial = new LineDecoder(100);
    expect(partial.push('{"cmd":"' + 'x'.repeat(60))).to.deep.equal([]);
    expect(() => partial.push('y'.repeat(60))).to.throw(LineTooLongError, /longer than 100 bytes/);
    const whole = new LineDecoder(100);
    expect(() => whole.push(JSON.stringify({ cmd: 'z'.repeat(200) }) + '\n')).to.throw(LineTooLongError);
    const fine = new LineDecoder(100);
    expect(fine.push('{"cmd":"ver')).to.deep.equal([]);
    expect(fine.push('ify"}\n{"cmd":"cancel"}\n')).to.deep.equal([{ cmd: 'verify' }, { cmd: 'cancel' }]);
  });

  it('a client that sends bytes without a newline gets an error and is cut off at the limit, and the server keeps serving others', async function () {
    this.timeout(20000);
    const sock = path.join(dir, 'flood.ctl');
    const server = await ControlServer.listen(sock, async (_req, conn) => conn.finish({ type: 'done', result: 'ok' }), () => {});
    try {
      const flood = await new Promise<{ answer: string; sent: number }>((resolve) => {
        const c = net.createConnection(sock);
        let answer = '';
        let sent = 0;
        const chunk = Buffer.alloc(64 * 1024, 'a');
        const pump = () => {
          while (!c.destroyed && sent < FLOOD) {
            sent += chunk.length;
            if (!c.write(chunk)) return void c.once('drain', pump);
          }
          if (!c.destroyed) c.end();
        };
        c.on('connect', pump);
        c.on('error', () => {});
        c.setEncoding('utf8').on('data', (d: string) => (answer += d));
        c.on('close', () => resolve({ answer, sent }));
      });
      const reply = JSON.parse(flood.answer.trim()) as { type: string; message: string; exitCode: number };
      expect(reply.type).to.equal('error');
      expect(reply.exitCode).to.equal(1);
      expect(reply.message).to.match(/control request line longer than \d+ bytes/);
      expect(flood.sent, 'the connection was cut before the flood ended').to.be.below(FLOOD);
      expect(await controlRequest(sock, { cmd: 'verify' }).result).to.deep.equal({ type: 'done', result: 'ok' });
    } finally {
      await server.close();
    }
  });

  it('a server that sends bytes without a newline is an error for the client (connection closed), not memory without end', async function () {
    this.timeout(20000);
    const sock = path.join(dir, 'broken.ctl');
    const broken = net.createServer((c) => {
      c.on('error', () => {});
      const chunk = Buffer.alloc(256 * 1024, 'b');
      let sent = 0;
      const pump = () => {
        while (!c.destroyed && sent < 2 * FLOOD) {
          sent += chunk.length;
          if (!c.write(chunk)) return void c.once('drain', pump);
        }
        c.end();
      };
      pump();
    });
    await new Promise<void>((r) => broken.listen(sock, r));
    try {
      const err = await controlRequest(sock, { cmd: 'verify' }).result.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).message).to.match(/malformed reply.*longer than \d+ bytes/);
      expect((err as { exitCode?: number }).exitCode).to.equal(2);
    } finally {
      broken.close();
    }
  });

  it('a reply that is not JSON is an error for the client, not an uncaught exception', async () => {
    const sock = path.join(dir, 'garbage.ctl');
    const broken = net.createServer((c) => c.end('{"type":"accepted"}\nnot json\n'));
    await new Promise<void>((r) => broken.listen(sock, r));
    try {
      const err = await controlRequest(sock, { cmd: 'verify' }).result.catch((e: unknown) => e);
      expect((err as Error).message).to.match(/malformed reply/);
    } finally {
      broken.close();
    }
  });

  it('progress for a client that stops reading (blkfs acquire suspended with Ctrl-Z) is dropped, not queued without end; the final answer still arrives', async function () {
    this.timeout(30000);
    const sock = path.join(dir, 'stopped-client.ctl');
    const sent = 100_000; // ~10 MB of progress lines
    let allSent!: () => void;
    const handled = new Promise<void>((r) => (allSent = r));
    const server = await ControlServer.listen(
      sock,
      async (_req, conn) => {
        for (let i = 0; i < sent; i++) {
          conn.send({ type: 'progress', bytesDone: i, bytesTotal: sent, phase: 'copying', note: 'x'.repeat(40) });
          if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
        }
        allSent();
        await conn.finish({ type: 'done', result: 'finished' });
      },
      () => {},
    );
    try {
      const c = net.createConnection(sock);
      c.on('error', () => {});
      await new Promise<void>((r) => c.once('connect', () => r()));
      c.write('{"cmd":"verify"}\n');
      c.pause(); // stopped: reads nothing while the server works
      await handled;
      let text = '';
      c.setEncoding('utf8').on('data', (d: string) => (text += d));
      c.resume();
      await new Promise<void>((r) => c.once('close', () => r()));
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
      expect(lines[lines.length - 1]).to.deep.equal({ type: 'done', result: 'finished' });
      const progress = lines.filter((l) => l.type === 'progress').length;
      expect(progress, 'progress lines that reached the stopped client').to.be.below(sent / 4);
    } finally {
      await server.close();
    }
  });
});
