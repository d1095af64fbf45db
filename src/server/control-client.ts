// Client side of the control socket (the CLI of umount, acquire, export).
import * as net from 'net';
import { ControlReply, ControlRequest, encodeLine, LineDecoder, MAX_REPLY_LINE } from './control-protocol';
import { OperationError, UserError } from '../errors';

export interface ControlSession {
  /** Sends a further request on the same connection (e.g. cancel). */
  send(req: ControlRequest): void;
  /** Resolves with the final reply (`done` or `error`); progress replies go to onProgress. */
  readonly result: Promise<ControlReply>;
}

/** The control socket is another user's (a mount made with --allow-other, seen by someone else): exit 1. */
export class ControlAccessError extends UserError {
  constructor(socketPath: string, code: string) {
    super(`cannot talk to the blkfs server at ${socketPath}: ${code} (it runs as another user: run this as that user, or as root)`);
    this.name = 'ControlAccessError';
  }
}

export class ControlConnectError extends OperationError {
  /** True when no connection was made at all (the socket is gone or nobody listens): the request was not delivered. */
  constructor(
    message: string,
    readonly notDelivered = false,
  ) {
    super(message);
    this.name = 'ControlConnectError';
  }
}

/** The server took no notice of the request within the handshake time (it is stopped, or hung). */
export class ControlNoAnswerError extends OperationError {
  constructor(readonly waitedMs: number) {
    super(`the blkfs server did not answer within ${waitedMs / 1000} s`);
    this.name = 'ControlNoAnswerError';
  }
}

/** A live server acknowledges a request at once; the answer itself may take hours (acquire, verify, export). */
export const CONTROL_HANDSHAKE_MS = 5000;

export function controlRequest(
  socketPath: string,
  req: ControlRequest,
  onProgress: (reply: ControlReply) => void = () => {},
  handshakeMs = CONTROL_HANDSHAKE_MS,
): ControlSession {
  const sock = net.createConnection(socketPath);
  sock.setEncoding('utf8');
  const decoder = new LineDecoder(MAX_REPLY_LINE);
  const result = new Promise<ControlReply>((resolve, reject) => {
    let final: ControlReply | undefined;
    // A listening socket accepts connections (the kernel's backlog) even while its server is stopped.
    const handshake = setTimeout(() => {
      reject(new ControlNoAnswerError(handshakeMs));
      sock.destroy();
    }, handshakeMs);
    sock.once('connect', () => sock.write(encodeLine(req)));
    sock.on('data', (chunk: string) => {
      clearTimeout(handshake);
      let msgs: ControlReply[];
      try {
        msgs = decoder.push(chunk) as ControlReply[];
      } catch (err) {
        sock.removeAllListeners('data');
        sock.destroy();
        reject(new ControlConnectError(`the blkfs server at ${socketPath} sent a malformed reply (${(err as Error).message})`));
        return;
      }
      for (const msg of msgs) {
        if (msg.type === 'progress') onProgress(msg);
        else if (msg.type !== 'accepted') final ??= msg;
      }
    });
    let connected = false;
    sock.once('connect', () => (connected = true));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(handshake);
      if (final) return;
      if (!connected && (err.code === 'EACCES' || err.code === 'EPERM')) return reject(new ControlAccessError(socketPath, err.code));
      reject(new ControlConnectError(`cannot talk to the blkfs server at ${socketPath}: ${err.code ?? err.message}`, !connected));
    });
    sock.on('close', () => {
      clearTimeout(handshake);
      if (final) resolve(final);
      else reject(new ControlConnectError(`the blkfs server closed the control connection without an answer`));
    });
  });
  return {
    send: (r) => {
      if (!sock.destroyed) sock.write(encodeLine(r));
    },
    result,
  };
}
