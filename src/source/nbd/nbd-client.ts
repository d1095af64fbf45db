// A small read-only NBD client: fixed newstyle handshake, structured replies, pipelined READs.
// It only ever sends READ and DISC (blkfs never writes to a source).
import * as net from 'net';
import { MediaError, SourceLostError, TransientReadError } from '../block-source';
import * as P from './nbd-protocol';
import { NbdProtocolError } from './nbd-protocol';
import { SocketReader } from './socket-reader';
import { pickError } from './read-errors';
import { PendingRead, ReplyParser } from './reply-parser';
import { NbdTarget, nbdTargetUri } from '../source-spec';

export interface NbdConnectOptions {
  /** Gives up on connect + handshake after this long (default 10 s). */
  timeoutMs?: number;
}

interface Negotiated {
  size: number;
  transmissionFlags: number;
  structuredReplies: boolean;
  blockSize?: P.BlockSizeInfo;
}

/** How long disconnect() waits for in-flight replies before hanging up on them. */
export const DISCONNECT_DRAIN_MS = 5000;

export class NbdClient {
  readonly size: number;
  readonly transmissionFlags: number;
  readonly structuredReplies: boolean;
  /** Only set when the server advertised NBD_INFO_BLOCK_SIZE (we then obey it). */
  readonly blockSize?: P.BlockSizeInfo;
  /** Resolves when the connection has ended: undefined after disconnect(), the reason if it was lost. */
  readonly closed: Promise<SourceLostError | undefined>;

  private readonly pending = new Map<number, PendingRead>();
  private nextCookie = 1;
  private lostWith?: SourceLostError;
  /** Set when the server answered ESHUTDOWN: we then disconnect, as the spec asks, and report a loss. */
  private shutdownBy?: SourceLostError;
  private disconnecting?: Promise<void>;
  private drainWaiters: (() => void)[] = [];
  private resolveClosed!: (reason: SourceLostError | undefined) => void;

  private constructor(
    private readonly socket: net.Socket,
    private readonly reader: SocketReader,
    readonly uri: string,
    negotiated: Negotiated,
  ) {
    this.size = negotiated.size;
    this.transmissionFlags = negotiated.transmissionFlags;
    this.structuredReplies = negotiated.structuredReplies;
    this.blockSize = negotiated.blockSize;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.on('close', () => this.connectionEnded(new Error('connection closed by the server')));
    // A protocol error means we can no longer trust the stream: hard disconnect (the spec's rule).
    const parser = new ReplyParser({
      take: (cookie) => this.takePending(cookie),
      errorFor: (p, e) => this.errorFor(p, e),
      finish: (cookie, p) => this.finish(cookie, p),
    });
    reader.handOver(parser, (err) => this.connectionEnded(err));
  }

  static async connect(target: NbdTarget, options: NbdConnectOptions = {}): Promise<NbdClient> {
    const uri = nbdTargetUri(target);
    const reader = new SocketReader();
    const socket =
      'socket' in target
        ? net.createConnection({ path: target.socket, onread: reader.onread })
        : net.createConnection({ port: target.port, host: target.host, onread: reader.onread });
    reader.attach(socket);
    const timer = setTimeout(() => socket.destroy(new Error(`timed out after ${options.timeoutMs ?? 10000} ms`)), options.timeoutMs ?? 10000);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      if (!('socket' in target)) socket.setNoDelay(true);
      const negotiated = await handshake(socket, reader, target.exportName);
      return new NbdClient(socket, reader, uri, negotiated);
    } catch (err) {
      socket.destroy();
      if (err instanceof P.NbdHandshakeUnsupportedError) err.message += `; ${frontFor(target)}`;
      if (err instanceof NbdProtocolError) {
        err.message = `${uri}: ${err.message}`; // keeps its class: an unknown export, TLS or the handshake is the user's setup
        throw err;
      }
      throw new SourceLostError(`cannot connect to NBD server ${uri}: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  get readOnly(): boolean {
    return (this.transmissionFlags & P.NBD_FLAG_READ_ONLY) !== 0;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** How long the oldest read in flight has waited for its reply (0 when none is). */
  oldestWaitMs(): number {
    let oldest = Infinity;
    for (const p of this.pending.values()) oldest = Math.min(oldest, p.sentAt);
    return oldest === Infinity ? 0 : Math.max(1, Date.now() - oldest);
  }

  /**
   * Reads exactly `length` bytes at `offset`. Large reads are split into requests the server accepts
   * (its advertised maximum, else 32 MiB); with an advertised minimum block size the range is widened
   * to it and the asked bytes are cut out. Requests are pipelined: call read() many times at once.
   */
  async read(offset: number, length: number): Promise<Buffer> {
    return this.readRange(offset, length);
  }

  /**
   * read() into `target`: a read the server takes whole (no alignment, no split) lands there straight from the
   * socket; others are copied in. Nothing is written into target after the returned promise settles: a reply's
   * bytes arrive before it ends, and a lost connection stops the socket before its reads are failed.
   */
  async readInto(offset: number, target: Buffer): Promise<Buffer> {
    const got = await this.readRange(offset, target.length, target);
    if (got !== target) got.copy(target);
    return target;
  }

  private async readRange(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    if (this.lostWith) throw this.lostWith;
    if (this.disconnecting) throw new SourceLostError(`NBD client for ${this.uri} is disconnecting`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(`read of ${length} bytes at ${offset} is outside the export (size ${this.size})`);
    }
    if (length === 0) return Buffer.alloc(0);

    const align = this.blockSize?.min ?? 1;
    const start = Math.floor(offset / align) * align;
    const end = Math.min(Math.ceil((offset + length) / align) * align, this.size);
    const maxPayload = Math.floor(Math.min(this.blockSize?.max ?? Infinity, P.DEFAULT_MAX_PAYLOAD) / align) * align;

    if (into && start === offset && end === offset + length && length <= maxPayload) return this.sendRead(offset, length, into);
    const pieces: Promise<Buffer>[] = [];
    for (let at = start; at < end; at += maxPayload) pieces.push(this.sendRead(at, Math.min(maxPayload, end - at)));
    const settled = await Promise.allSettled(pieces);
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    if (failures.length > 0) throw pickError(failures, offset, length);

    const buffers = settled.map((s) => (s as PromiseFulfilledResult<Buffer>).value);
    const whole = buffers.length === 1 ? buffers[0] : Buffer.concat(buffers, end - start);
    return offset === start && length === whole.length ? whole : whole.subarray(offset - start, offset - start + length);
  }

  /**
   * Waits for every in-flight reply, then sends NBD_CMD_DISC and closes. Hanging up with requests in
   * flight makes nbdkit 1.32 abort (raw_send_socket: Assertion 'sock >= 0', fixed in 1.33.10). A server that
   * has not answered them within `drainMs` (stalled, or hostile) is hung up on all the same: they fail with
   * SourceLostError (no verdict on their sectors), so closing never waits forever.
   */
  disconnect(drainMs = DISCONNECT_DRAIN_MS): Promise<void> {
    this.disconnecting ??= (async () => {
      const deadline = Date.now() + drainMs;
      while (this.pending.size > 0 && !this.lostWith) {
        const left = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const drained = await new Promise<boolean>((r) => {
          this.drainWaiters.push(() => r(true));
          timer = setTimeout(() => r(false), Math.max(0, left));
        });
        clearTimeout(timer);
        if (!drained) this.abort(`the server did not answer them within ${drainMs / 1000} s of disconnecting`);
      }
      if (!this.lostWith) {
        this.socket.write(P.encodeRequest({ type: P.NBD_CMD_DISC, cookie: this.nextCookie++, offset: 0, length: 0 }));
        this.socket.end();
        const timer = setTimeout(() => this.socket.destroy(), 5000);
        await this.closed;
        clearTimeout(timer);
      }
    })();
    return this.disconnecting;
  }

  /** Hangs up on the reads in flight (a server that stopped answering): they fail with SourceLostError. */
  abort(reason: string): void {
    if (this.pending.size === 0 || this.lostWith) return;
    this.connectionEnded(new Error(`hung up on ${this.pending.size} unanswered read(s): ${reason}`));
  }

  private sendRead(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.lostWith) return reject(this.lostWith);
      const cookie = this.nextCookie;
      this.nextCookie = (this.nextCookie % 0xffffffff) + 1;
      this.pending.set(cookie, { offset, length, buf: into ?? Buffer.allocUnsafe(length), spans: [], sentAt: Date.now(), resolve, reject });
      this.socket.write(P.encodeRequest({ type: P.NBD_CMD_READ, cookie, offset, length }));
    });
  }

  private takePending(cookie: number): PendingRead {
    const p = this.pending.get(cookie);
    if (!p) throw new NbdProtocolError(`reply for unknown cookie ${cookie}`);
    return p;
  }

  private errorFor(p: PendingRead, e: P.ErrorChunk): Error {
    const detail = e.message ? `: ${e.message}` : '';
    // ESHUTDOWN is the server going away, not the medium failing.
    if (e.errno === P.NBD_ESHUTDOWN) {
      // nbdkit answers ESHUTDOWN after SIGTERM and only exits once its clients have sent NBD_CMD_DISC.
      this.shutdownBy ??= new SourceLostError(`NBD server ${this.uri} is shutting down${detail}`);
      void this.disconnect();
      return this.shutdownBy;
    }
    const end = p.offset + p.length;
    const at = e.offset ?? p.offset; // inside the request: the parser refuses any other
    const name = P.errnoName(e.errno);
    const align = this.blockSize?.min ?? 1;
    if (e.errno === P.NBD_EINVAL && (p.offset % align !== 0 || p.length % align !== 0)) {
      // Only the export's last bytes are asked for unaligned (its size is no multiple of the server's minimum block
      // size, which the protocol says a request must respect): the server refused our request, not the medium.
      return new TransientReadError(
        p.offset,
        p.length,
        name,
        `NBD server ${this.uri} refused a read reaching the export's end (${p.length} bytes at ${p.offset}: ${name}${detail}): the export's size is not a multiple of its minimum block size ${align}, so its last ${this.size % align} bytes cannot be asked for as the protocol wants; the read's sectors stay untried`,
      );
    }
    if (!P.isMediaErrno(e.errno)) {
      return new TransientReadError(p.offset, p.length, name, `NBD server ${this.uri} failed a read with ${name} (${p.length} bytes at ${p.offset})${detail}`);
    }
    return new MediaError(at, end - at, e.errno, `read error ${name} at byte ${at} (in ${p.length} bytes at ${p.offset})${detail}`);
  }

  private finish(cookie: number, p: PendingRead): void {
    this.pending.delete(cookie);
    const problem = p.error ? undefined : P.replyCoverageProblem(p.spans, p.length);
    if (p.error) p.reject(p.error);
    else if (problem) {
      p.reject(new SourceLostError(`NBD protocol error from ${this.uri}: ${problem}`));
      throw new NbdProtocolError(problem);
    } else p.resolve(p.buf);
    if (this.pending.size === 0) this.drainWaiters.splice(0).forEach((wake) => wake());
  }

  /** The connection is gone (or unusable): every in-flight read fails with SourceLostError. */
  private connectionEnded(reason: Error): void {
    if (this.lostWith) return;
    const deliberate = this.disconnecting !== undefined && this.pending.size === 0 && !this.shutdownBy;
    this.lostWith = deliberate
      ? new SourceLostError(`NBD client for ${this.uri} was disconnected`)
      : (this.shutdownBy ?? new SourceLostError(`lost NBD connection to ${this.uri}: ${reason.message}`));
    this.reader.close(reason);
    this.socket.destroy();
    for (const p of this.pending.values()) p.reject(this.lostWith);
    this.pending.clear();
    this.drainWaiters.splice(0).forEach((wake) => wake());
    this.resolveClosed(deliberate ? undefined : this.lostWith);
  }
}

/** How to reach a server without the fixed newstyle handshake: libnbd (nbdkit's nbd plugin) speaks every handshake. */
function frontFor(target: NbdTarget): string {
  const server = 'socket' in target ? `socket=${target.socket}` : `hostname=${target.host} port=${target.port}`;
  const exportArg = target.exportName ? ` export=${target.exportName}` : '';
  return (
    'blkfs needs the fixed newstyle handshake; put nbdkit in front of this server (its nbd plugin speaks every handshake): ' +
    `nbdkit -r -U SOCK nbd ${server}${exportArg}, then mount nbd+unix:///?socket=SOCK`
  );
}

async function handshake(socket: net.Socket, reader: SocketReader, exportName: string): Promise<Negotiated> {
  const { handshakeFlags } = P.parseServerGreeting(await reader.read(P.SERVER_GREETING_SIZE));
  socket.write(P.encodeClientFlags(handshakeFlags));

  socket.write(P.encodeOption(P.NBD_OPT_STRUCTURED_REPLY));
  let structuredReplies = false;
  for (;;) {
    const reply = await readOptionReply(reader, P.NBD_OPT_STRUCTURED_REPLY);
    if (reply.type === P.NBD_REP_ACK) structuredReplies = true;
    if (reply.type === P.NBD_REP_ACK || P.isOptionError(reply.type)) break; // an error just means simple replies
  }

  socket.write(P.encodeOption(P.NBD_OPT_GO, P.encodeGoData(exportName, [P.NBD_INFO_BLOCK_SIZE])));
  let exportInfo: { size: number; transmissionFlags: number } | undefined;
  let blockSize: P.BlockSizeInfo | undefined;
  for (;;) {
    const reply = await readOptionReply(reader, P.NBD_OPT_GO);
    if (P.isOptionError(reply.type)) throw P.goRefusal(exportName, reply.type, reply.payload);
    if (reply.type === P.NBD_REP_ACK) break;
    if (reply.type === P.NBD_REP_INFO) {
      const info = P.parseInfoReply(reply.payload);
      if (info.kind === 'export') exportInfo = info;
      if (info.kind === 'blockSize') blockSize = info.blockSize;
    }
  }
  if (!exportInfo) throw new NbdProtocolError('server finished NBD_OPT_GO without NBD_INFO_EXPORT');
  return { ...exportInfo, structuredReplies, blockSize };
}

async function readOptionReply(reader: SocketReader, option: number): Promise<{ type: number; payload: Buffer }> {
  const header = P.parseOptionReplyHeader(await reader.read(P.OPTION_REPLY_HEADER_SIZE), option);
  if (header.length > 1024 * 1024) throw new NbdProtocolError(`option reply of ${header.length} bytes`);
  const payload = header.length > 0 ? await reader.read(header.length) : Buffer.alloc(0);
  return { type: header.type, payload };
}
