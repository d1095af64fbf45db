// What the NBD client does with a buggy or hostile server (test/helpers/hostile-nbd-server.ts): a reply that breaks
// the protocol is a lost source (never data, never a bad sector), a handshake that does is refused with the
// reason, and no reply that never comes holds a disconnect or an unmount forever.
import { expect } from 'chai';
import { MediaError, SourceLostError } from '../../../../src/source/block-source';
import { NbdClient } from '../../../../src/source/nbd/nbd-client';
import { MediumSizeChangedError, openBlockSource } from '../../../../src/source/nbd/nbd-block-source';
import * as P from '../../../../src/source/nbd/nbd-protocol';
import { classifyMountError } from '../../../../src/cli/mount-errors';
import { HostileScript, HostileServer, hostileContent, NbdRequest, Replier, startHostileNbdServer } from '../../../helpers/hostile-nbd-server';

/** A structured reply chunk header announcing `length` payload bytes, and nothing after it. */
function chunkHeader(req: NbdRequest, type: number, length: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(P.NBD_STRUCTURED_REPLY_MAGIC, 0);
  h.writeUInt16BE(P.NBD_REPLY_FLAG_DONE, 4);
  h.writeUInt16BE(type, 6);
  req.cookie.copy(h, 8);
  h.writeUInt32BE(length, 16);
  return h;
}

// Chunks outside the request, overlapping or leaving bytes uncovered: nbd-client-replies.test.ts.
const OTHER_COOKIE = Buffer.from('00000000deadbeef', 'hex');

describe('nbd/nbd-client against a hostile server', function () {
  this.timeout(5000);
  const servers: HostileServer[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.close();
  });

  async function serve(script: HostileScript): Promise<HostileServer> {
    const srv = await startHostileNbdServer(script);
    servers.push(srv);
    return srv;
  }

  async function connect(script: HostileScript): Promise<NbdClient> {
    return NbdClient.connect({ socket: (await serve(script)).socket, exportName: '' });
  }

  const violations: [string, HostileScript][] = [
    ['a reply with a cookie never sent (structured)', { onRead: (q, r) => r.data(q, q.offset, q.length, true, OTHER_COOKIE) }],
    ['a reply with a cookie never sent (simple)', { structured: false, onRead: (q, r) => r.simple(q, 0, q.length, OTHER_COOKIE) }],
    ['a simple reply shorter than asked, then the connection closed', { structured: false, onRead: (q, r) => (r.simple(q, 0, q.length - 7), r.end()) }],
    ['a reset in the middle of the payload', { onRead: (q, r) => (r.raw(chunkHeader(q, P.NBD_REPLY_TYPE_OFFSET_DATA, 8 + q.length)), r.raw(Buffer.alloc(100)), r.reset()) }],
    ['a reply that is not one (garbage magic)', { onRead: (_q, r) => r.raw(Buffer.alloc(64, 0x41)) }],
    ['DONE before all the bytes', { onRead: (q, r) => (r.data(q, q.offset, 1024, true), r.data(q, q.offset + 1024, q.length - 1024, true)) }],
    ['an error chunk with error 0 (no error at all)', { onRead: (q, r) => r.error(q, 0) }],
    ['an ERROR_OFFSET before the request', { onRead: (q, r) => r.error(q, P.NBD_EIO, '', q.offset - 512) }],
    ['an ERROR_OFFSET past the request', { onRead: (q, r) => r.error(q, P.NBD_EIO, '', q.offset + q.length) }],
  ];
  for (const [what, script] of violations) {
    it(`${what}: the read fails as a lost source (no data, no bad sector)`, async () => {
      const client = await connect(script);
      const got = await client.read(4096, 4096).catch((e: unknown) => e);
      expect(got).to.be.instanceOf(SourceLostError);
      expect(got).not.to.be.instanceOf(MediaError);
    });
  }

  it('an OFFSET_HOLE chunk of an absurd length is refused at its header, not allocated and waited for', async () => {
    const client = await connect({ onRead: (q, r) => r.raw(chunkHeader(q, P.NBD_REPLY_TYPE_OFFSET_HOLE, 0xfffffff0)) });
    const got = await client.read(0, 4096).catch((e: unknown) => e);
    expect(got).to.be.instanceOf(SourceLostError);
    expect((got as Error).message).to.match(/OFFSET_HOLE chunk of length 4294967280/);
  });

  it('an OFFSET_HOLE chunk reads as zeros, the data around it as sent', async () => {
    const client = await connect({ onRead: (q, r) => (r.hole(q, q.offset, 1024, false), r.data(q, q.offset + 1024, q.length - 1024, true)) });
    const got = await client.read(8192, 4096);
    expect(got.equals(Buffer.concat([Buffer.alloc(1024), hostileContent(8192 + 1024, 3072)]))).to.equal(true);
  });

  it('disconnect() gives a reply that never comes its drain period, then hangs up: the read fails as a lost source', async () => {
    const client = await connect({ onRead: (q, r) => r.raw(chunkHeader(q, P.NBD_REPLY_TYPE_OFFSET_DATA, 8 + q.length)) });
    const read = client.read(0, 4096).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    await client.disconnect(100);
    const got = await read;
    expect(got).to.be.instanceOf(SourceLostError);
    expect((got as Error).message).to.match(/did not answer them within 0.1 s of disconnecting/);
  });

  it('hangUpStalled: a source whose read waited long enough is hung up on (a lost source), and the next read reconnects', async () => {
    const srv = await serve({ onRead: (q, r: Replier, conn) => (conn === 0 ? undefined : r.honest(q)) });
    const source = await openBlockSource({ kind: 'nbd', target: { socket: srv.socket, exportName: '' } });
    const stalled = source.read(0, 4096).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 30));
    expect(source.hangUpStalled(60_000)).to.equal(false);
    expect(source.hangUpStalled(10)).to.equal(true);
    expect(await stalled).to.be.instanceOf(SourceLostError);
    expect((await source.read(0, 4096)).equals(hostileContent(0, 4096))).to.equal(true);
    expect(srv.connections()).to.equal(2);
    await source.close();
  });

  it('an export whose size changed when reconnecting is another medium: MediumSizeChangedError, never adopted', async () => {
    const srv = await serve({ perConnection: (i) => ({ size: i === 0 ? 1 << 20 : 2 << 20 }), onRead: (q, r, conn) => (conn === 0 ? r.reset() : r.honest(q)) });
    const source = await openBlockSource({ kind: 'nbd', target: { socket: srv.socket, exportName: '' } }, { reconnectDelayMs: { initial: 0, max: 0 } });
    expect(await source.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
    const err = await source.read(0, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MediumSizeChangedError).and.include({ newSize: 2 << 20 });
    expect(source.size).to.equal(1 << 20);
    expect(srv.requests.filter((q) => q.type === P.NBD_CMD_READ)).to.have.length(1);
    await source.close();
  });

  const refusals: [string, HostileScript, RegExp][] = [
    ['garbage instead of a greeting', { greeting: Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n') }, /not an NBD server/],
    ['min > max', { blockSize: [4096, 4096, 512] }, /invalid NBD_INFO_BLOCK_SIZE min=4096/],
    ['min not a power of two', { blockSize: [3000, 4096, 65536] }, /invalid NBD_INFO_BLOCK_SIZE min=3000/],
    ['max 0', { blockSize: [512, 4096, 0] }, /invalid NBD_INFO_BLOCK_SIZE .* max=0/],
    ['preferred > max', { blockSize: [512, 65536, 4096] }, /invalid NBD_INFO_BLOCK_SIZE .* preferred=65536/],
    ['a size past 2^53', { size: 2n ** 53n + 1n }, /export size 9007199254740993 too large/],
    ['a size of 2^64-1', { size: 2n ** 64n - 1n }, /export size 18446744073709551615 too large/],
    ['GO forbidden by policy', { goError: { type: 0x80000002, message: 'not you' } }, /refused \(forbidden by server policy: not you\)/],
    ['GO refused, server shutting down', { goError: { type: 0x80000007 } }, /refused \(server shutting down\)/],
    ['GO refused with an unknown error', { goError: { type: 0x80000042 } }, /refused \(error 0x80000042\)/],
  ];
  for (const [what, script, message] of refusals) {
    it(`handshake with ${what}: NbdProtocolError saying so, exit 1 when mounting (the server the user named)`, async () => {
      const srv = await serve(script);
      const err = await NbdClient.connect({ socket: srv.socket, exportName: '' }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(P.NbdProtocolError);
      expect((err as Error).message).to.match(message);
      expect(classifyMountError(err, { startup: true }).exitCode).to.equal(1);
    });
  }
});
