// Reply shapes nbdkit 1.32 never sends (holes, ERROR_OFFSET, out-of-order chunks, protocol violations),
// played by a scripted server speaking the handshake over a Unix socket. The real nbdkit is exercised in
// test/integration/nbd/.
import { expect } from 'chai';
import type * as net from 'net';
import { MediaError, SourceLostError, TransientReadError } from '../../../../src/source/block-source';
import { NbdClient } from '../../../../src/source/nbd/nbd-client';
import * as P from '../../../../src/source/nbd/nbd-protocol';
import { hostileContent as content, HostileScript, NbdRequest as Req, Replier, startHostileNbdServer } from '../../../helpers/hostile-nbd-server';

describe('nbd/nbd-client reply handling (scripted server)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function connect(script: HostileScript) {
    const srv = await startHostileNbdServer(script);
    cleanups.push(srv.close);
    const client = await NbdClient.connect({ socket: srv.socket, exportName: 'x' });
    return { client, requests: srv.requests };
  }

  it('assembles a read from out-of-order data and hole chunks (holes are zeros)', async () => {
    const { client } = await connect({
      onRead: (req, r) => {
        r.data(req, req.offset + 1024, 1024, false);
        r.hole(req, req.offset + 512, 512, false);
        r.data(req, req.offset, 512, false);
        r.chunk(req.cookie, P.NBD_REPLY_TYPE_NONE, Buffer.alloc(0), true);
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
      onRead: (req, r) => {
        held.push([req, r]);
        if (held.length === 3) for (const [q, rr] of held.reverse()) rr.data(q, q.offset, q.length, true);
      },
    });
    const got = await Promise.all([client.read(0, 100), client.read(5000, 200), client.read(9000, 300)]);
    expect(got.map((b, i) => b.equals(content([0, 5000, 9000][i], [100, 200, 300][i])))).to.deep.equal([true, true, true]);
  });

  it('parses replies however the stream is cut: mid-header, mid-offset, mid-payload, several replies per write', async () => {
    const held: Req[] = [];
    const { client } = await connect({
      onRead: (req, r) => {
        held.push(req);
        if (held.length > 4) return r.data(req, req.offset, req.length, true);
        if (held.length < 4) return;
        const recorded: Buffer[] = [];
        const rec = new Replier({ write: (b: Buffer) => recorded.push(b) } as unknown as net.Socket, true);
        const [a, b, c, d] = held;
        rec.data(a, a.offset, a.length, true);
        rec.hole(b, b.offset, 100, false);
        rec.data(b, b.offset + 100, b.length - 100, true);
        rec.error(c, P.NBD_EIO, '', c.offset + 512);
        rec.data(d, d.offset + 2000, d.length - 2000, false);
        rec.data(d, d.offset, 2000, true);
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
      onRead: (req, r) => {
        r.data(req, req.offset, 1024, false);
        r.error(req, P.NBD_EIO, '', req.offset + 1024);
      },
    });
    const err = await client.read(8192, 4096).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MediaError);
    expect(err).to.include({ offset: 8192 + 1024, length: 3072, errno: 5 });
  });

  it('splits at the advertised maximum and reports the first failing piece', async () => {
    const { client, requests } = await connect({
      blockSize: [512, 4096, 4096],
      onRead: (req, r) => (req.offset >= 8192 ? r.error(req, P.NBD_EIO) : r.data(req, req.offset, req.length, true)),
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
      onRead: (req, r) => (req.offset === 0 ? r.simple(req, P.NBD_EIO) : r.simple(req)),
    });
    expect(client.structuredReplies).to.equal(false);
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.include({ offset: 0, length: 512, errno: 5 });
    expect((await client.read(512, 512)).equals(content(512, 512))).to.equal(true);
  });

  it('an unknown non-error chunk type is a hard disconnect: in-flight reads get SourceLostError', async () => {
    const { client } = await connect({ onRead: (req, r) => (req.offset === 0 ? r.chunk(req.cookie, 77, Buffer.alloc(4), true) : undefined) });
    const other = client.read(4096, 512);
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/unknown structured reply chunk type 77/);
    expect(await other.catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
    expect(await client.closed).to.be.instanceOf(SourceLostError);
  });

  it('an unknown error chunk type fails only its request', async () => {
    const { client } = await connect({
      onRead: (req, r) => (req.offset === 0 ? r.chunk(req.cookie, 0x8123, Buffer.from('0000000c0000', 'hex'), true) : r.data(req, req.offset, req.length, true)),
    });
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(TransientReadError).and.include({ errnoName: 'ENOMEM' });
    expect((await client.read(512, 16)).equals(content(512, 16))).to.equal(true);
  });

  it('only EIO, EINVAL (nbdkit\'s ENODATA) and values outside the spec are media errors; ENOMEM, EPERM, ENOSPC, EOVERFLOW, ENOTSUP are transient', async () => {
    const errnos = [1, 5, 12, 22, 28, 75, 95, 200];
    for (const structured of [true, false]) {
      const { client } = await connect({
        structured,
        onRead: (req, r) => (structured ? r.error(req, errnos[req.offset / 512], '', req.offset) : r.simple(req, errnos[req.offset / 512])),
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
      onRead: (req, r) => (req.offset === 0 ? r.error(req, P.NBD_EIO) : req.offset === 4096 ? r.error(req, 12) : r.data(req, req.offset, req.length, true)),
    });
    const err = await client.read(0, 12288).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TransientReadError).and.include({ offset: 0, length: 12288, errnoName: 'ENOMEM' });
  });

  it('a "successful" reply that leaves bytes uncovered is never served: SourceLostError', async () => {
    const { client } = await connect({ onRead: (req, r) => r.data(req, req.offset, req.length - 1, true) });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/covered 511 of 512/);
  });

  it('chunks that overlap and leave a gap (bytes add up, coverage does not) are never served: SourceLostError', async () => {
    // 0..256 twice, 256..512 never: the byte count matches the request, the gap would be whatever memory held.
    const { client } = await connect({
      onRead: (req, r) => {
        r.data(req, req.offset, 256, false);
        r.data(req, req.offset, 256, true);
      },
    });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.match(/overlap|covered/);
  });

  it('data outside the request is a protocol error, not data', async () => {
    const { client } = await connect({ onRead: (req, r) => r.data(req, req.offset + 512, 512, true) });
    expect(await client.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
  });

  it('ESHUTDOWN is a lost source, and the client then sends NBD_CMD_DISC', async () => {
    const { client, requests } = await connect({ onRead: (req, r) => r.error(req, P.NBD_ESHUTDOWN) });
    const err = await client.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect(await client.closed).to.be.instanceOf(SourceLostError);
    expect(requests.map((q) => q.type)).to.deep.equal([P.NBD_CMD_READ, P.NBD_CMD_DISC]);
  });

  it('only ever sends READ and DISC', async () => {
    const { client, requests } = await connect({ onRead: (req, r) => r.data(req, req.offset, req.length, true) });
    await Promise.all([client.read(0, 10), client.read(100, 10)]);
    await client.disconnect();
    expect(requests.map((q) => q.type)).to.deep.equal([P.NBD_CMD_READ, P.NBD_CMD_READ, P.NBD_CMD_DISC]);
  });

  it('an export the server refuses is an NbdProtocolError naming the reason', async () => {
    const srv = await startHostileNbdServer({ goError: { type: 0x80000006, message: 'go away' } });
    cleanups.push(srv.close);
    const err = await NbdClient.connect({ socket: srv.socket, exportName: 'nope' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(P.NbdProtocolError);
    expect((err as Error).message).to.match(/export 'nope' refused \(unknown export: go away\)/);
  });
});
