import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { ControlNoAnswerError, controlRequest } from '../../../src/server/control-client';
import { ControlServer } from '../../../src/server/control-server';

describe('control socket handshake', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-ctl-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a server that accepts the connection but never answers is a ControlNoAnswerError after the handshake time, not a wait without end', async () => {
    const sock = path.join(dir, 'hung.ctl');
    const silent = net.createServer(() => {}); // accepts, reads nothing, says nothing: like a stopped process's backlog
    await new Promise<void>((r) => silent.listen(sock, r));
    try {
      const started = Date.now();
      const err = await controlRequest(sock, { cmd: 'verify' }, undefined, 300).result.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ControlNoAnswerError);
      expect((err as ControlNoAnswerError).exitCode).to.equal(2);
      expect(Date.now() - started).to.be.below(5000);
    } finally {
      silent.close();
    }
  });

  it('a live server acknowledges at once, so an answer that takes longer than the handshake time is still waited for', async () => {
    const sock = path.join(dir, 'slow.ctl');
    const server = await ControlServer.listen(
      sock,
      async (_req, conn) => {
        await new Promise((r) => setTimeout(r, 600));
        await conn.finish({ type: 'done', result: 'late' });
      },
      () => {},
    );
    try {
      const reply = await controlRequest(sock, { cmd: 'verify' }, undefined, 200).result;
      expect(reply).to.deep.equal({ type: 'done', result: 'late' });
    } finally {
      await server.close();
    }
  });
});

describe('control socket requests', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-ctl-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a handler that throws at once (the server still starting) is an error reply, not an uncaught exception that kills the server', async () => {
    const sock = path.join(dir, 'starting.ctl');
    const uncaught: unknown[] = [];
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', (e) => uncaught.push(e));
    const server = await ControlServer.listen(
      sock,
      () => {
        throw new Error('server is starting');
      },
      () => {},
    );
    try {
      const reply = await controlRequest(sock, { cmd: 'verify' }).result;
      expect(reply).to.deep.equal({ type: 'error', message: 'server is starting', exitCode: 2 });
      expect(uncaught).to.deep.equal([]);
    } finally {
      await server.close();
      process.removeAllListeners('uncaughtException');
      listeners.forEach((l) => process.on('uncaughtException', l));
    }
  });

  it('a line that is JSON but no request (null, a number) is a malformed request (exit 1), not a crash message of the handler', async () => {
    const sock = path.join(dir, 'garbage.ctl');
    let handled = 0;
    const server = await ControlServer.listen(sock, async () => void handled++, () => {});
    try {
      for (const line of ['null', '42', '"shutdown"', '{"cmd":5}']) {
        const answer = await new Promise<string>((resolve) => {
          const c = net.createConnection(sock, () => c.end(line + '\n'));
          let text = '';
          c.setEncoding('utf8').on('data', (d: string) => (text += d)).on('close', () => resolve(text));
        });
        expect(answer, line).to.equal('{"type":"error","message":"malformed control request","exitCode":1}\n');
      }
      expect(handled).to.equal(0);
    } finally {
      await server.close();
    }
  });
});
