// Reply shapes nbdkit 1.32 never sends (holes, ERROR_OFFSET, out-of-order chunks, protocol violations),
// played by a scripted server speaking the handshake over a Unix socket. The real nbdkit is exercised in
// test/integration/nbd/.
import { expect } from 'chai';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { MediaError, SourceLostError, TransientReadError } from '../../../../src/source/block-source';
import { NbdClient } from '../../../../src/source/nbd/nbd-client';
import * as P from '../../../../src/source/nbd/nbd-protocol';

const SIZE = 1 << 20;

interface Req {
  type: number;
  cookie: Buffer;
  offset: number;
  length: number;
}

interface Script {
  structured?: boolean;
  goError?: number;
  blockSize?: [number, number, number];
  /** Called with every request; may answer now, later, or never. */
  onRequest(req: Req, reply: Replier): void;
}

class Replier {
  constructor(private readonly sock: net.Socket) {}
  chunk(req: Req, type: number, payload: Buffer, done: boolean): void {
    const head = Buffer.alloc(20);
    head.writeUInt32BE(P.NBD_STRUCTURED_REPLY_MAGIC, 0);
    head.writeUInt16BE(done ? P.NBD_REPLY_FLAG_DONE : 0, 4);
    head.writeUInt16BE(type, 6);
    req.cookie.copy(head, 8);
    head.writeUInt32BE(payload.length, 16);
    this.sock.write(Buffer.concat([head, payload]));
  }
  data(req: Req, offset: number, bytes: Buffer, done: boolean): void {
    const at = Buffer.alloc(8);
    at.writeBigUInt64BE(BigInt(offset));
    this.chunk(req, P.NBD_REPLY_TYPE_OFFSET_DATA, Buffer.concat([at, bytes]), done);
  }
  hole(req: Req, offset: number, length: number, done: boolean): void {
    const b = Buffer.alloc(12);
    b.writeBigUInt64BE(BigInt(offset));
    b.writeUInt32BE(length, 8);
    this.chunk(req, P.NBD_REPLY_TYPE_OFFSET_HOLE, b, done);
  }
  error(req: Req, errno: number, offset?: number): void {
    const b = Buffer.alloc(offset === undefined ? 6 : 14);
    b.writeUInt32BE(errno);
    if (offset !== undefined) b.writeBigUInt64BE(BigInt(offset), 6);
    this.chunk(req, offset === undefined ? P.NBD_REPLY_TYPE_ERROR : P.NBD_REPLY_TYPE_ERROR_OFFSET, b, true);
  }
  /** Bytes as they are (e.g. replies recorded by another Replier, sent in pieces). */
  raw(bytes: Buffer): void {
    this.sock.write(bytes);
  }
  simple(req: Req, errno: number, bytes?: Buffer): void {
    const head = Buffer.alloc(16);
    head.writeUInt32BE(P.NBD_SIMPLE_REPLY_MAGIC, 0);
    head.writeUInt32BE(errno, 4);
    req.cookie.copy(head, 8);
    this.sock.write(bytes ? Buffer.concat([head, bytes]) : head);
  }
}

/** Byte i of the fake export is i mod 251. */
const content = (offset: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => (offset + i) % 251));

async function scriptedServer(dir: string, script: Script): Promise<{ socket: string; requests: Req[]; close: () => void }> {
  const socket = path.join(dir, `fake-${Math.random().toString(36).slice(2)}.sock`);
  const requests: Req[] = [];
  const conns: net.Socket[] = [];
  const server = net.createServer((sock) => {
    conns.push(sock);
    let buf = Buffer.alloc(0);
    let phase: 'flags' | 'options' | 'transmission' = 'flags';
    const replier = new Replier(sock);
    const optReply = (opt: number, type: number, payload = Buffer.alloc(0)) => {
      const h = Buffer.alloc(20);
      h.writeBigUInt64BE(P.REPLY_MAGIC_OPTION, 0);
      h.writeUInt32BE(opt, 8);
      h.writeUInt32BE(type >>> 0, 12);
      h.writeUInt32BE(payload.length, 16);
      sock.write(Buffer.concat([h, payload]));
    };
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (phase === 'flags' && buf.length >= 4) {
          buf = buf.subarray(4);
          phase = 'options';
        } else if (phase === 'options' && buf.length >= 16 && buf.length >= 16 + buf.readUInt32BE(12)) {
          const opt = buf.readUInt32BE(8);
          buf = buf.subarray(16 + buf.readUInt32BE(12));
          if (opt === P.NBD_OPT_STRUCTURED_REPLY) optReply(opt, script.structured === false ? P.NBD_REP_ERR_UNSUP : P.NBD_REP_ACK);
          else if (opt === P.NBD_OPT_GO && script.goError) optReply(opt, script.goError, Buffer.from('go away'));
          else if (opt === P.NBD_OPT_GO) {
            const info = Buffer.alloc(12);
            info.writeBigUInt64BE(BigInt(SIZE), 2);
            info.writeUInt16BE(P.NBD_FLAG_HAS_FLAGS | P.NBD_FLAG_READ_ONLY, 10);
            optReply(opt, P.NBD_REP_INFO, info);
            if (script.blockSize) {
              const bs = Buffer.alloc(14);
              bs.writeUInt16BE(P.NBD_INFO_BLOCK_SIZE, 0);
              script.blockSize.forEach((v, i) => bs.writeUInt32BE(v, 2 + 4 * i));
              optReply(opt, P.NBD_REP_INFO, bs);
            }
            optReply(opt, P.NBD_REP_ACK);
            phase = 'transmission';
          }
        } else if (phase === 'transmission' && buf.length >= 28) {
          const req = { type: buf.readUInt16BE(6), cookie: Buffer.from(buf.subarray(8, 16)), offset: Number(buf.readBigUInt64BE(16)), length: buf.readUInt32BE(24) };
          buf = buf.subarray(28);
          requests.push(req);
          if (req.type === P.NBD_CMD_DISC) sock.end();
          else script.onRequest(req, replier);
        } else break;
      }
    });
    sock.on('error', () => undefined);
    const greeting = Buffer.alloc(18);
    greeting.writeBigUInt64BE(P.NBDMAGIC, 0);
    greeting.writeBigUInt64BE(P.IHAVEOPT, 8);
    greeting.writeUInt16BE(3, 16);
    sock.write(greeting);
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return { socket, requests, close: () => (conns.forEach((c) => c.destroy()), server.close()) };
}

describe('nbd/nbd-client reply handling (scripted server)', () => {
  let dir: string;
  const cleanups: (() => void)[] = [];
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-fake-nbd-'))));
  afterEach(() => cleanups.splice(0).forEach((c) => c()));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function connect(script: Script) {
    const srv = await scriptedServer(dir, script);
    cleanups.push(srv.close);
    const client = await NbdClient.connect({ socket: srv.socket, exportName: 'x' });
    return { client, requests: srv.requests };
  }

  it('assembles a read from out-of-order data and hole chunks (holes are zeros)', async () => {
    const { client } = await connect({
      onRequest: (req, r) => {
        r.data(req, req.offset + 1024, content(req.offset + 1024, 1024), false);
        r.hole(req, req.offset + 512, 512, false);
        r.data(req, req.offset, content(req.offset, 512), false);
        r.chunk(req, P.NBD_REPLY_TYPE_NONE, Buffer.alloc(0), true);
      },
    });
    const got = await client.read(4096, 2048);
    expect(got.subarray(0, 512).equals(content(4096, 512))).to.equal(true);
    expect(got.subarray(512, 1024).equals(Buffer.alloc(512))).to.equal(true);
    expect(got.subarray(1024).equals(content(4096 + 1024, 1024))).to.equal(true);
  });

  it('matches replies to requests by cookie, whatever their order', async () => {
    const held: [Req, Replier][] = [];
    const { client } = await connect({
      onRequest: (req, r) => {
        held.push([req, r]);
        if (held.length === 3) for (const [q, rr] of held.reverse()) rr.data(q, q.offset, content(q.offset, q.length), true);
      },
    });
    const got = await Promise.all([client.read(0, 100), client.read(5000, 200), client.read(9000, 300)]);
    expect(got.map((b, i) => b.equals(content([0, 5000, 9000][i], [100, 200, 300][i])))).to.deep.equal([true, true, true]);
  });

  it('parses replies however the stream is cut: mid-header, mid-offset, mid-payload, several replies per write', async () => {
    const held: Req[] = [];
    const { client } = await connect({
      onRequest: (req, r) => {
        held.push(req);
        if (held.length > 4) return r.data(req, req.offset, content(req.offset, req.length), true);
        if (held.length < 4) return;
        const recorded: Buffer[] = [];
        const rec = new Replier({ write: (b: Buffer) => recorded.push(b) } as unknown as net.Socket);
        const [a, b, c, d] = held;
        rec.data(a, a.offset, content(a.offset, a.length), true);
        rec.hole(b, b.offset, 100, false);
        rec.data(b, b.offset + 100, content(b.offset + 100, b.length - 100), true);
        rec.error(c, P.NBD_EIO, c.offset + 512);
        rec.data(d, d.offset + 2000, content(d.offset + 2000, d.length - 2000), false);
        rec.data(d, d.offset, content(d.offset, 2000), true);
        const all = Buffer.concat(recorded);
        void (async () => {
          // pieces of 1, 8, 57, 400, ... bytes (cycling), each its own write after a pause
          for (let at = 0, k = 1; at < all.length; k = (k * 7 + 1) % 997) {
            const n = Math.min(all.length - at, k);
            r.raw(all.subarray(at, at + n));
            at += n;
            await new Promise((res) => setTimeout(res, 1));
          }
        })();
      },
    });
    const [ra, rb, rc, rd] = await Promise.all([
      client.read(0, 70_000),
      client.read(100_000, 300),
      client.read(200_000, 1024).catch((e: unknown) => e),
      client.read(300_000, 5000),
    ]);
    expect((ra as Buffer).equals(content(0, 70_000))).to.equal(true);
    expect((rb as Buffer).subarray(0, 100).equals(Buffer.alloc(100))).to.equal(true);
    expect((rb as Buffer).subarray(100).equals(content(100_100, 200))).to.equal(true);
    expect(rc).to.be.instanceOf(MediaError);
    expect((rc as MediaError).offset).to.equal(200_512);
    expect((rd as Buffer).equals(content(300_000, 5000))).to.equal(true);
    // and the stream is still in step: a further read is answered normally
    expect((await client.read(400_000, 4096)).equals(content(400_000, 4096))).to.equal(true);
  });

  it('ERROR_OFFSET gives a MediaError starting at the failing byte', async () => {
    const { client } = await connect({
      onRequest: (req, r) => {
        r.data(req, req.offset, content(req.offset, 1024), false);
        r.error(req, P.NBD_EIO, req.offset + 1024);
      },
    });
    const err = await client.read(8192, 4096).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MediaError);
    expect(err).to.include({ offset: 8192 + 1024, length: 3072, errno: 5 });
  });

  it('splits at the advertised maximum and reports the first failing piece', async () => {
    const { client, requests } = await connect({
      blockSize: [512, 4096, 4096],
      onRequest: (req, r) => (req.offset >= 8192 ? r.error(req, P.NBD_EIO) : r.data(req, req.offset, content(req.offset, req.length), true)),
    });
    expect(client.blockSize).to.deep.equal({ min: 512, preferred: 4096, max: 4096 });
    const err = await client.read(1024, 12288).catch((e: unknown) => e);
    expect(requests.map((q) => [q.offset, q.length])).to.deep.equal([[1024, 4096], [5120, 4096], [9216, 4096]]);
    expect(err).to.include({ offset: 9216, length: 4096, errno: 5 });
    expect((await client.read(0, 8192)).equals(content(0, 8192))).to.equal(true);
  });

  it('a simple-reply server (no structured replies) works, errors carry the request range', async () => {
    const { client } = await connect({
      structured: false,
      onRequest: (req, r) => (req.offset === 0 ? r.simple(req, P.NBD_EIO) : r.simple(req, 0, content(req.offset, req.length))),
    });
    expect(client.structuredReplies).to.equal(false);
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.include({ offset: 0, length: 512, errno: 5 });
    expect((await client.read(512, 512)).equals(content(512, 512))).to.equal(true);
  });

  it('an unknown non-error chunk type is a hard disconnect: in-flight reads get SourceLostError', async () => {
    const { client } = await connect({ onRequest: (req, r) => (req.offset === 0 ? r.chunk(req, 77, Buffer.alloc(4), true) : undefined) });
    const other = client.read(4096, 512);
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/unknown structured reply chunk type 77/);
    expect(await other.catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
    expect(await client.closed).to.be.instanceOf(SourceLostError);
  });

  it('an unknown error chunk type fails only its request', async () => {
    const { client } = await connect({
      onRequest: (req, r) => (req.offset === 0 ? r.chunk(req, 0x8123, Buffer.from('0000000c0000', 'hex'), true) : r.data(req, req.offset, content(req.offset, req.length), true)),
    });
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(TransientReadError).and.include({ errnoName: 'ENOMEM' });
    expect((await client.read(512, 16)).equals(content(512, 16))).to.equal(true);
  });

  it('only EIO, EINVAL (nbdkit\'s ENODATA) and values outside the spec are media errors; ENOMEM, EPERM, ENOSPC, EOVERFLOW, ENOTSUP are transient', async () => {
    const errnos = [1, 5, 12, 22, 28, 75, 95, 200];
    for (const structured of [true, false]) {
      const { client } = await connect({
        structured,
        onRequest: (req, r) => (structured ? r.error(req, errnos[req.offset / 512], req.offset) : r.simple(req, errnos[req.offset / 512])),
      });
      const got = await Promise.all(errnos.map((_, i) => client.read(i * 512, 512).catch((e: unknown) => e)));
      const kinds = got.map((e) => (e instanceof MediaError ? `media ${e.errno}` : e instanceof TransientReadError ? `transient ${e.errnoName}` : String(e)));
      expect(kinds, `structured ${structured}`).to.deep.equal(['transient EPERM', 'media 5', 'transient ENOMEM', 'media 22', 'transient ENOSPC', 'transient EOVERFLOW', 'transient ENOTSUP', 'media 200']);
      expect(got[2]).to.include({ offset: 1024, length: 512 });
      expect((got[2] as Error).message).to.match(/failed a read with ENOMEM \(512 bytes at 1024\)/);
    }
  });

  it('a split read with a bad piece and a transient one is transient over the whole range: no verdict on any sector', async () => {
    const { client } = await connect({
      blockSize: [512, 4096, 4096],
      onRequest: (req, r) => (req.offset === 0 ? r.error(req, P.NBD_EIO) : req.offset === 4096 ? r.error(req, 12) : r.data(req, req.offset, content(req.offset, req.length), true)),
    });
    const err = await client.read(0, 12288).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TransientReadError).and.include({ offset: 0, length: 12288, errnoName: 'ENOMEM' });
  });

  it('a "successful" reply that leaves bytes uncovered is never served: SourceLostError', async () => {
    const { client } = await connect({ onRequest: (req, r) => r.data(req, req.offset, content(req.offset, req.length - 1), true) });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/covered 511 of 512/);
  });

  it('chunks that overlap and leave a gap (bytes add up, coverage does not) are never served: SourceLostError', async () => {
    // 0..256 twice, 256..512 never: the byte count matches the request, the gap would be whatever memory held.
    const { client } = await connect({
      onRequest: (req, r) => {
        r.data(req, req.offset, content(req.offset, 256), false);
        r.data(req, req.offset, content(req.offset, 256), true);
      },
    });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/overlap|covered/);
  });

  it('data outside the request is a protocol error, not data', async () => {
    const { client } = await connect({ onRequest: (req, r) => r.data(req, req.offset + 512, content(0, 512), true) });
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
  });

  it('ESHUTDOWN is a lost source, and the client then sends NBD_CMD_DISC', async () => {
    const { client, requests } = await connect({ onRequest: (req, r) => r.error(req, P.NBD_ESHUTDOWN) });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect(await client.closed).to.be.instanceOf(SourceLostError);
    expect(requests.map((q) => q.type)).to.deep.equal([P.NBD_CMD_READ, P.NBD_CMD_DISC]);
  });

  it('only ever sends READ and DISC', async () => {
    const { client, requests } = await connect({ onRequest: (req, r) => r.data(req, req.offset, content(req.offset, req.length), true) });
    await Promise.all([client.read(0, 10), client.read(100, 10)]);
    await client.disconnect();
    expect(requests.map((q) => q.type)).to.deep.equal([P.NBD_CMD_READ, P.NBD_CMD_READ, P.NBD_CMD_DISC]);
  });

  it('an export the server refuses is an NbdProtocolError naming the reason', async () => {
    const srv = await scriptedServer(dir, { goError: 0x80000006, onRequest: () => undefined });
    cleanups.push(srv.close);
    const err = await NbdClient.connect({ socket: srv.socket, exportName: 'nope' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(P.NbdProtocolError);
    expect((err as Error).message).to.match(/export 'nope' refused \(unknown export: go away\)/);
  });
});
