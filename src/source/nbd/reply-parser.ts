// Transmission-phase replies (simple replies and structured chunks) parsed as bytes arrive, matched to the reads in
// flight. Anything that breaks the protocol throws: the client then drops the connection (the spec's rule).
import * as P from './nbd-protocol';
import { NbdProtocolError } from './nbd-protocol';
import { ByteConsumer } from './socket-reader';
import { worseError } from './read-errors';

export interface PendingRead {
  offset: number;
  length: number;
  buf: Buffer;
  /** [start, end) of each data/hole chunk (the whole request for a simple reply): they must cover it exactly once. */
  spans: [number, number][];
  /** Date.now() when the request was sent. */
  sentAt: number;
  error?: Error;
  resolve: (buf: Buffer) => void;
  reject: (err: Error) => void;
}

// Largest error chunk we accept: the message is at most 4 KiB by spec, plus a few fixed fields.
const MAX_ERROR_CHUNK = 64 * 1024;

/** What the reply parser needs from the client. */
export interface ReplyHandlers {
  /** The in-flight read a reply is for; throws NbdProtocolError for an unknown cookie. */
  take(cookie: number): PendingRead;
  errorFor(p: PendingRead, e: P.ErrorChunk): Error;
  /** The reply to `p` is complete (resolve or reject it). */
  finish(cookie: number, p: PendingRead): void;
}

/**
 * Transmission-phase replies, parsed synchronously as bytes arrive (simple replies and structured chunks). While
 * a read's payload is expected, destination() names where it goes in the read's buffer, so the socket reads
 * straight into it. Any protocol violation throws (the connection is then dropped).
 */
export class ReplyParser implements ByteConsumer {
  private readonly header = Buffer.allocUnsafe(P.STRUCTURED_REPLY_HEADER_SIZE);
  /** Header bytes in hand, and how many the header has (4 until the magic says which form). */
  private headerHave = 0;
  private headerSize = 4;
  /** A small fixed-length part being collected (a data chunk's offset, a hole, an error), then its handler. */
  private small?: { buf: Buffer; have: number; then: (buf: Buffer) => void };
  /** Payload going to target[at, at+left), then its handler. */
  private payload?: { target: Buffer; at: number; left: number; then: () => void };

  constructor(private readonly client: ReplyHandlers) {}

  destination(): Buffer | undefined {
    const d = this.payload;
    return d ? d.target.subarray(d.at, d.at + d.left) : undefined;
  }

  filled(n: number): void {
    const d = this.payload as { target: Buffer; at: number; left: number; then: () => void };
    d.at += n;
    d.left -= n;
    if (d.left === 0) this.endPayload(d);
  }

  consume(src: Buffer, from: number, to: number): void {
    let i = from;
    while (i < to) {
      const d = this.payload;
      if (d) {
        const n = Math.min(d.left, to - i);
        src.copy(d.target, d.at, i, i + n);
        i += n;
        this.filled(n);
      } else if (this.small) {
        const sm = this.small;
        const n = Math.min(sm.buf.length - sm.have, to - i);
        src.copy(sm.buf, sm.have, i, i + n);
        sm.have += n;
        i += n;
        if (sm.have === sm.buf.length) {
          this.small = undefined;
          sm.then(sm.buf);
        }
      } else {
        const n = Math.min(this.headerSize - this.headerHave, to - i);
        src.copy(this.header, this.headerHave, i, i + n);
        this.headerHave += n;
        i += n;
        if (this.headerHave === this.headerSize) this.onHeaderBytes();
      }
    }
  }

  private endPayload(d: { then: () => void }): void {
    this.payload = undefined;
    d.then();
  }

  /** Collects `n` bytes, then calls `then` with them (at once for n = 0). */
  private collect(n: number, then: (buf: Buffer) => void): void {
    if (n === 0) then(Buffer.alloc(0));
    else this.small = { buf: Buffer.allocUnsafe(n), have: 0, then };
  }

  private onHeaderBytes(): void {
    if (this.headerSize === 4) {
      const magic = P.replyMagic(this.header);
      if (magic === P.NBD_SIMPLE_REPLY_MAGIC) this.headerSize = P.SIMPLE_REPLY_HEADER_SIZE;
      else if (magic === P.NBD_STRUCTURED_REPLY_MAGIC) this.headerSize = P.STRUCTURED_REPLY_HEADER_SIZE;
      else throw new NbdProtocolError(`bad reply magic 0x${magic.toString(16)}`);
      return;
    }
    const size = this.headerSize;
    this.headerHave = 0;
    this.headerSize = 4;
    if (size === P.SIMPLE_REPLY_HEADER_SIZE) this.onSimpleReply(P.parseSimpleReplyHeader(this.header.subarray(0, size)));
    else this.onChunk(P.parseChunkHeader(this.header));
  }

  private onSimpleReply({ error, cookie }: P.SimpleReplyHeader): void {
    const p = this.client.take(cookie);
    const done = () => {
      p.spans.push([p.offset, p.offset + p.length]);
      this.client.finish(cookie, p);
    };
    if (error !== 0) {
      p.error = this.client.errorFor(p, { errno: error, message: '' });
      done();
    } else {
      this.payload = { target: p.buf, at: 0, left: p.length, then: done };
    }
  }

  private onChunk(chunk: P.ChunkHeader): void {
    const p = this.client.take(chunk.cookie);
    const next = () => {
      if (chunk.flags & P.NBD_REPLY_FLAG_DONE) this.client.finish(chunk.cookie, p);
    };
    if (chunk.type === P.NBD_REPLY_TYPE_OFFSET_DATA) {
      if (chunk.length <= 8) throw new NbdProtocolError('OFFSET_DATA chunk without data');
      this.collect(8, (b) => {
        const at = Number(b.readBigUInt64BE(0));
        const n = chunk.length - 8;
        checkInside(p, at, n);
        this.payload = {
          target: p.buf,
          at: at - p.offset,
          left: n,
          then: next,
        };
      });
    } else if (chunk.type === P.NBD_REPLY_TYPE_OFFSET_HOLE) {
      // Checked before collecting: a hostile length would otherwise be allocated and waited for.
      if (chunk.length !== 12) throw new NbdProtocolError(`OFFSET_HOLE chunk of length ${chunk.length}, expected 12`);
      this.collect(chunk.length, (b) => {
        const hole = P.parseHoleChunk(b);
        checkInside(p, hole.offset, hole.length);
        p.buf.fill(0, hole.offset - p.offset, hole.offset - p.offset + hole.length);
        next();
      });
    } else if (P.isErrorChunk(chunk.type)) {
      if (chunk.length > MAX_ERROR_CHUNK) throw new NbdProtocolError(`error chunk of ${chunk.length} bytes`);
      this.collect(chunk.length, (b) => {
        // Unknown error types still start with error(32), message length(16): the request failed.
        const type = chunk.type === P.NBD_REPLY_TYPE_ERROR_OFFSET ? chunk.type : P.NBD_REPLY_TYPE_ERROR;
        const e = P.parseErrorChunk(type, b);
        // Blaming bytes outside the request (the spec: MUST be inside) says nothing true about any sector.
        if (e.offset !== undefined && (e.offset < p.offset || e.offset >= p.offset + p.length)) {
          throw new NbdProtocolError(`ERROR_OFFSET ${e.offset} outside the request ${p.offset}+${p.length}`);
        }
        p.error = worseError(p.error, this.client.errorFor(p, e));
        next();
      });
    } else if (chunk.type === P.NBD_REPLY_TYPE_NONE) {
      if (chunk.length !== 0 || !(chunk.flags & P.NBD_REPLY_FLAG_DONE)) throw new NbdProtocolError('malformed NONE chunk');
      next();
    } else {
      throw new NbdProtocolError(`unknown structured reply chunk type ${chunk.type}`);
    }
  }
}

function checkInside(p: PendingRead, at: number, n: number): void {
  if (at < p.offset || at + n > p.offset + p.length) {
    throw new NbdProtocolError(`reply chunk ${at}+${n} outside the request ${p.offset}+${p.length}`);
  }
  p.spans.push([at, at + n]);
}
