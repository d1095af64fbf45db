// Listens on the control socket and hands each request to the server's handlers.
import * as fs from 'fs';
import * as net from 'net';
import { ControlReply, ControlRequest, encodeLine, LineDecoder, LineTooLongError } from './control-protocol';
import { exitCodeOf } from '../errors';

/** Unsent bytes past which progress replies are dropped (done and error replies never are). */
const MAX_PROGRESS_BACKLOG = 64 * 1024;

export interface ControlConnection {
  send(reply: ControlReply): void;
  /** Resolves when the client hangs up (or is gone). */
  readonly closed: Promise<void>;
  /** Requests after the first one on this connection (e.g. cancel). */
  onRequest(listener: (req: ControlRequest) => void): void;
  /** Sends `reply` as the last message and resolves once it is written and the connection ended. */
  finish(reply: ControlReply): Promise<void>;
}

export type ControlHandler = (req: ControlRequest, conn: ControlConnection) => Promise<void>;

export class ControlServer {
  private constructor(
    readonly path: string,
    private readonly server: net.Server,
  ) {}

  static async listen(socketPath: string, handle: ControlHandler, onError: (err: unknown) => void): Promise<ControlServer> {
    // A socket file left by a killed server (same pid reused) would give EADDRINUSE.
    fs.rmSync(socketPath, { force: true });
    const server = net.createServer((sock) => serve(sock, handle, onError));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(socketPath, 0o600);
    return new ControlServer(socketPath, server);
  }

  /** Stops accepting clients. Open connections are not waited for: one of them may be the `shutdown` request
   *  that is closing us. */
  async close(): Promise<void> {
    this.server.close();
    fs.rmSync(this.path, { force: true });
  }
}

function serve(sock: net.Socket, handle: ControlHandler, onError: (err: unknown) => void): void {
  sock.setEncoding('utf8');
  const decoder = new LineDecoder();
  const later: Array<(req: ControlRequest) => void> = [];
  let started = false;
  const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  sock.on('error', () => {}); // a client that vanished is not a server error
  const conn: ControlConnection = {
    send: (reply) => {
      if (sock.destroyed) return;
      // A client that stopped reading (blkfs acquire suspended by Ctrl-Z) would have every progress line queued for
      // it, for as long as the acquisition runs: each one is superseded by the next, so they are dropped instead.
      if (reply.type === 'progress' && sock.writableLength > MAX_PROGRESS_BACKLOG) return;
      sock.write(encodeLine(reply));
    },
    closed,
    onRequest: (l) => later.push(l),
    finish: (reply) =>
      new Promise<void>((resolve) => {
        if (sock.destroyed) return resolve();
        sock.end(encodeLine(reply), () => resolve());
      }),
  };
  sock.on('data', (chunk: string) => {
    let msgs: unknown[];
    try {
      msgs = decoder.push(chunk);
      if (!msgs.every(isRequest)) throw new Error('not a request');
    } catch (err) {
      const message = err instanceof LineTooLongError ? `control request ${err.message}: connection closed` : 'malformed control request';
      // Nothing more is read from this client: its answer goes out, then the socket is closed both ways.
      sock.removeAllListeners('data');
      sock.pause();
      if (!sock.destroyed) sock.end(encodeLine({ type: 'error', message, exitCode: 1 }), () => sock.destroy());
      return;
    }
    for (const msg of msgs) {
      const req = msg as ControlRequest;
      if (started) {
        later.forEach((l) => l(req));
        continue;
      }
      started = true;
      conn.send({ type: 'accepted' });
      // A handler that throws at once (the server still starting) answers like one that rejects.
      Promise.resolve()
        .then(() => handle(req, conn))
        .catch((err: unknown) => {
          onError(err);
          conn.send({ type: 'error', message: err instanceof Error ? err.message : String(err), exitCode: exitCodeOf(err) });
        })
        .finally(() => sock.end());
    }
  });
}

/** A request is an object naming its command; anything else (null, a number, a string) is malformed. */
function isRequest(msg: unknown): msg is ControlRequest {
  return typeof msg === 'object' && msg !== null && typeof (msg as { cmd?: unknown }).cmd === 'string';
}
