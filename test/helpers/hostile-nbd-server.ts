// A scriptable NBD server that misbehaves on request, for tests of what blkfs does with a buggy or hostile server:
// fixed newstyle handshake over a Unix socket in a temp dir, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_GO/INFO with
// NBD_INFO_EXPORT and NBD_INFO_BLOCK_SIZE, and READ answered by a script (honest data by default). Everything about
// the handshake can be made wrong (greeting, size, block sizes, GO refusals), per connection. It runs in the test
// process: never read a FUSE mount it serves synchronously there.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as P from '../../src/source/nbd/nbd-protocol';

export interface NbdRequest {
  type: number;
  /** The cookie exactly as the client sent it. */
  cookie: Buffer;
  offset: number;
  length: number;
}

/** What a connection negotiates; each field may depend on the connection's index (0 = first connection). */
export interface HandshakeScript {
  /** Replaces the 18-byte greeting (garbage magic, oldstyle...). */
  greeting?: Buffer;
  /** Answer NBD_OPT_STRUCTURED_REPLY with ACK (default) or ERR_UNSUP. */
  structured?: boolean;
  /** Refuse NBD_OPT_GO with this NBD_REP_ERR_* type (and message). */
  goError?: { type: number; message?: string };
  /** Export size sent in NBD_INFO_EXPORT (a bigint to go past 2^53). */
  size?: number | bigint;
  /** NBD_INFO_BLOCK_SIZE [min, preferred, max] as sent, however absurd. */
  blockSize?: [number, number, number];
}

export interface HostileScript extends HandshakeScript {
  /** Per-connection overrides of the handshake (connection index from 0). */
  perConnection?: (index: number) => HandshakeScript;
  /** The export's bytes on each connection (default hostileContent on all): another medium behind the same URI. */
  content?: (offset: number, length: number, connection: number) => Buffer;
  /** Called with every READ; may answer now, later, wrongly, or never. Default: honest data in one chunk/reply. */
  onRead?: (req: NbdRequest, reply: Replier, connection: number) => void;
}

/** Byte i of the fake export: i mod 251, so a misplaced byte shows. */
export function hostileContent(offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (offset + i) % 251;
  return buf;
}

/** Writes replies on one connection: well-formed pieces to assemble into a wrong whole. */
export class Replier {
  constructor(
    readonly sock: net.Socket,
    readonly structured: boolean,
    private readonly content: (offset: number, length: number) => Buffer = hostileContent,
  ) {}

  chunk(cookie: Buffer, type: number, payload: Buffer, done: boolean): void {
    const head = Buffer.alloc(20);
    head.writeUInt32BE(P.NBD_STRUCTURED_REPLY_MAGIC, 0);
    head.writeUInt16BE(done ? P.NBD_REPLY_FLAG_DONE : 0, 4);
    head.writeUInt16BE(type, 6);
    cookie.copy(head, 8);
    head.writeUInt32BE(payload.length, 16);
    this.raw(Buffer.concat([head, payload]));
  }

  data(req: NbdRequest, offset: number, length: number, done: boolean, cookie = req.cookie): void {
    const at = Buffer.alloc(8);
    at.writeBigUInt64BE(BigInt(offset));
    this.chunk(cookie, P.NBD_REPLY_TYPE_OFFSET_DATA, Buffer.concat([at, this.content(offset, length)]), done);
  }

  hole(req: NbdRequest, offset: number, length: number, done: boolean): void {
    const b = Buffer.alloc(12);
    b.writeBigUInt64BE(BigInt(offset));
    b.writeUInt32BE(length, 8);
    this.chunk(req.cookie, P.NBD_REPLY_TYPE_OFFSET_HOLE, b, done);
  }

  /** An ERROR chunk, or ERROR_OFFSET when `offset` is given. */
  error(req: NbdRequest, errno: number, message = '', offset?: number): void {
    const text = Buffer.from(message);
    const b = Buffer.alloc(6 + text.length + (offset === undefined ? 0 : 8));
    b.writeUInt32BE(errno);
    b.writeUInt16BE(text.length, 4);
    text.copy(b, 6);
    if (offset !== undefined) b.writeBigUInt64BE(BigInt(offset), 6 + text.length);
    this.chunk(req.cookie, offset === undefined ? P.NBD_REPLY_TYPE_ERROR : P.NBD_REPLY_TYPE_ERROR_OFFSET, b, true);
  }

  /** A simple reply: the header, then `payload` bytes of data (default: all the request asked) when errno is 0. */
  simple(req: NbdRequest, errno = 0, payload = errno === 0 ? req.length : 0, cookie = req.cookie): void {
    const head = Buffer.alloc(16);
    head.writeUInt32BE(P.NBD_SIMPLE_REPLY_MAGIC, 0);
    head.writeUInt32BE(errno, 4);
    cookie.copy(head, 8);
    this.raw(Buffer.concat([head, this.content(req.offset, payload)]));
  }

  /** The honest answer. */
  honest(req: NbdRequest): void {
    if (this.structured) this.data(req, req.offset, req.length, true);
    else this.simple(req);
  }

  raw(bytes: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(bytes);
  }

  /** Closes the connection after what was written (a FIN: the client sees the stream end). */
  end(): void {
    this.sock.end();
  }

  /** Drops the connection at once (unsent bytes are lost, as with a reset). */
  reset(): void {
    this.sock.destroy();
  }
}

export interface HostileServer {
  /** Unix socket path, and the URI blkfs mounts. */
  socket: string;
  uri: string;
  /** Every request received, all connections, in order. */
  requests: NbdRequest[];
  /** Connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a server on a Unix socket in a fresh temp dir (removed by close()). */
export async function startHostileNbdServer(script: HostileScript = {}): Promise<HostileServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-hostile-nbd-'));
  const socket = path.join(dir, 'nbd.sock');
  const requests: NbdRequest[] = [];
  const conns = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((sock) => {
    const index = accepted++;
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    serveConnection(sock, index, { ...script, ...script.perConnection?.(index) }, script, requests);
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    uri: `nbd+unix:///?socket=${socket}`,
    requests,
    connections: () => accepted,
    close: async () => {
      for (const c of conns) c.destroy();
      await new Promise((r) => server.close(r));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serveConnection(sock: net.Socket, index: number, hs: HandshakeScript, script: HostileScript, requests: NbdRequest[]): void {
  let buf = Buffer.alloc(0);
  let phase: 'flags' | 'options' | 'transmission' = 'flags';
  let structured = false;
  const optReply = (opt: number, type: number, payload = Buffer.alloc(0)) => {
    const h = Buffer.alloc(20);
    h.writeBigUInt64BE(P.REPLY_MAGIC_OPTION, 0);
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(type >>> 0, 12);
    h.writeUInt32BE(payload.length, 16);
    sock.write(Buffer.concat([h, payload]));
  };
  const go = (opt: number) => {
    if (hs.goError) return optReply(opt, hs.goError.type, Buffer.from(hs.goError.message ?? ''));
    const info = Buffer.alloc(12);
    info.writeBigUInt64BE(BigInt(hs.size ?? 1 << 20), 2);
    info.writeUInt16BE(P.NBD_FLAG_HAS_FLAGS | P.NBD_FLAG_READ_ONLY, 10);
    optReply(opt, P.NBD_REP_INFO, info);
    if (hs.blockSize) {
      const bs = Buffer.alloc(14);
      bs.writeUInt16BE(P.NBD_INFO_BLOCK_SIZE, 0);
      hs.blockSize.forEach((v, i) => bs.writeUInt32BE(v >>> 0, 2 + 4 * i));
      optReply(opt, P.NBD_REP_INFO, bs);
    }
    optReply(opt, P.NBD_REP_ACK);
    if (opt === P.NBD_OPT_GO) phase = 'transmission';
  };
  const content = script.content;
  const replier = () => new Replier(sock, structured, content && ((offset, length) => content(offset, length, index)));
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (phase === 'flags' && buf.length >= 4) {
        buf = buf.subarray(4);
        phase = 'options';
      } else if (phase === 'options' && buf.length >= 16 && buf.length >= 16 + buf.readUInt32BE(12)) {
        const opt = buf.readUInt32BE(8);
        buf = buf.subarray(16 + buf.readUInt32BE(12));
        if (opt === P.NBD_OPT_STRUCTURED_REPLY) {
          structured = hs.structured !== false;
          optReply(opt, structured ? P.NBD_REP_ACK : P.NBD_REP_ERR_UNSUP);
        } else if (opt === P.NBD_OPT_GO || opt === 6 /* NBD_OPT_INFO */) go(opt);
        else optReply(opt, P.NBD_REP_ERR_UNSUP);
      } else if (phase === 'transmission' && buf.length >= 28) {
        const req = { type: buf.readUInt16BE(6), cookie: Buffer.from(buf.subarray(8, 16)), offset: Number(buf.readBigUInt64BE(16)), length: buf.readUInt32BE(24) };
        buf = buf.subarray(28);
        requests.push(req);
        if (req.type === P.NBD_CMD_DISC) sock.end();
        else if (script.onRead) script.onRead(req, replier(), index);
        else replier().honest(req);
      } else break;
    }
  });
  let greeting = hs.greeting;
  if (!greeting) {
    greeting = Buffer.alloc(18);
    greeting.writeBigUInt64BE(P.NBDMAGIC, 0);
    greeting.writeBigUInt64BE(P.IHAVEOPT, 8);
    greeting.writeUInt16BE(P.NBD_FLAG_FIXED_NEWSTYLE | P.NBD_FLAG_NO_ZEROES, 16);
  }
  sock.write(greeting);
}
