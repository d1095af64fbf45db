// Encoders and decoders against byte strings taken from proto.md and the nbdkit 1.32 wire transcript.
import { expect } from 'chai';
import * as P from '../../../../src/source/nbd/nbd-protocol';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('nbd/nbd-protocol', () => {
  it('parses nbdkit\'s greeting (fixed newstyle + no zeroes) and answers with both client flags', () => {
    const { handshakeFlags } = P.parseServerGreeting(hex('4e42444d41474943 49484156454f5054 0003'));
    expect(handshakeFlags).to.equal(3);
    expect(P.encodeClientFlags(handshakeFlags)).to.deep.equal(hex('00000003'));
    expect(P.encodeClientFlags(1)).to.deep.equal(hex('00000001')); // never a flag the server did not offer
  });

  it('refuses oldstyle servers, non-fixed newstyle (NbdHandshakeUnsupportedError: the server the user chose) and garbage', () => {
    expect(() => P.parseServerGreeting(hex('4e42444d41474943 0000420281861253 0000'))).to.throw(P.NbdHandshakeUnsupportedError, /oldstyle/);
    expect(() => P.parseServerGreeting(hex('4e42444d41474943 49484156454f5054 0000'))).to.throw(P.NbdHandshakeUnsupportedError, /without the fixed newstyle flag/);
    expect(() => P.parseServerGreeting(hex('485454502f312e31 2032303020200d0a 0000'))).to.throw(P.NbdProtocolError, /not an NBD server/);
  });

  it('encodes OPT_STRUCTURED_REPLY and OPT_GO asking for NBD_INFO_BLOCK_SIZE', () => {
    expect(P.encodeOption(P.NBD_OPT_STRUCTURED_REPLY)).to.deep.equal(hex('49484156454f5054 00000008 00000000'));
    expect(P.encodeOption(P.NBD_OPT_GO, P.encodeGoData('cd', [P.NBD_INFO_BLOCK_SIZE]))).to.deep.equal(
      hex('49484156454f5054 00000007 0000000a 00000002 6364 0001 0003'),
    );
  });

  it('parses option replies: ACK, NBD_INFO_EXPORT, NBD_INFO_BLOCK_SIZE, errors', () => {
    expect(P.parseOptionReplyHeader(hex('0003e889045565a9 00000007 00000003 0000000c'), 7)).to.deep.equal({ option: 7, type: 3, length: 12 });
    expect(() => P.parseOptionReplyHeader(hex('0003e889045565a9 00000008 00000001 00000000'), 7)).to.throw(P.NbdProtocolError);
    expect(P.parseInfoReply(hex('0000 0000000000a00000 0187'))).to.deep.equal({ kind: 'export', size: 0xa00000, transmissionFlags: 0x187 });
    expect(P.parseInfoReply(hex('0003 00000200 00001000 00100000'))).to.deep.equal({ kind: 'blockSize', blockSize: { min: 512, preferred: 4096, max: 0x100000 } });
    expect(P.parseInfoReply(hex('0001 6364'))).to.deep.equal({ kind: 'other', code: 1 });
    expect(P.isOptionError(0x80000006)).to.equal(true);
    expect(P.isOptionError(P.NBD_REP_ACK)).to.equal(false);
    expect(P.NBD_REP_ERR_UNSUP).to.equal(0x80000001);
    expect(P.describeOptionError(0x80000006, Buffer.from('no such export'))).to.equal('unknown export: no such export');
  });

  it('rejects block size info the spec forbids', () => {
    for (const bad of ['0003 00000300 00001000 00100000', '0003 00000200 00000100 00100000', '0003 00020000 00020000 00100000', '0003 00000200 00001000 00000800']) {
      expect(() => P.parseInfoReply(hex(bad)), bad).to.throw(P.NbdProtocolError, /invalid NBD_INFO_BLOCK_SIZE/);
    }
    expect(P.parseInfoReply(hex('0003 00000001 00001000 ffffffff'))).to.have.property('kind', 'blockSize');
    // A maximum need not be a multiple of the minimum (proto.md asks only max >= preferred): 1,000,000 with 512.
    expect(P.parseInfoReply(hex('0003 00000200 00001000 000f4240'))).to.deep.equal({ kind: 'blockSize', blockSize: { min: 512, preferred: 4096, max: 1000000 } });
  });

  it('encodes a 28-byte READ request and a DISC', () => {
    expect(P.encodeRequest({ type: P.NBD_CMD_READ, cookie: 2, offset: 0x700200, length: 512 })).to.deep.equal(
      hex('25609513 0000 0000 0000000000000002 0000000000700200 00000200'),
    );
    expect(P.encodeRequest({ type: P.NBD_CMD_DISC, cookie: 0xffffffff, offset: 0, length: 0 })).to.deep.equal(
      hex('25609513 0000 0002 00000000ffffffff 0000000000000000 00000000'),
    );
  });

  it('parses simple and structured reply headers (transcript: ERROR chunk with EIO, empty message)', () => {
    expect(P.parseSimpleReplyHeader(hex('67446698 00000005 0000000000000007'))).to.deep.equal({ error: 5, cookie: 7 });
    expect(P.parseChunkHeader(hex('668e33ef 0001 8001 0000000000000002 00000006'))).to.deep.equal({ flags: 1, type: 0x8001, cookie: 2, length: 6 });
    expect(P.parseErrorChunk(0x8001, hex('00000005 0000'))).to.deep.equal({ errno: 5, message: '' });
    expect(P.parseErrorChunk(0x8002, hex('00000005 0003 626164 0000000000700200'))).to.deep.equal({ errno: 5, message: 'bad', offset: 0x700200 });
    expect(P.parseHoleChunk(hex('0000000000001000 00000200'))).to.deep.equal({ offset: 0x1000, length: 0x200 });
    expect(P.isErrorChunk(0x8001)).to.equal(true);
    expect(P.isErrorChunk(P.NBD_REPLY_TYPE_OFFSET_DATA)).to.equal(false);
  });

  it('rejects malformed error chunks', () => {
    expect(() => P.parseErrorChunk(0x8001, hex('00000005'))).to.throw(P.NbdProtocolError);
    expect(() => P.parseErrorChunk(0x8001, hex('00000005 0009 626164'))).to.throw(P.NbdProtocolError, /overruns/);
    expect(() => P.parseErrorChunk(0x8002, hex('00000005 0000 00'))).to.throw(P.NbdProtocolError, /wrong length/);
  });
});
