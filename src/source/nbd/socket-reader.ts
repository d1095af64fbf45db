// Reads from a socket into buffers we choose (net's `onread` option), in two phases:
// - handshake: exact-length reads, so protocol code is a plain sequence of "read 20 bytes, then N bytes";
// - transmission: the bytes go to a ByteConsumer (the NBD reply parser). When it expects payload it names the
//   destination (the read's own buffer) and the kernel copies socket data straight there: no intermediate
//   chunk, no copy in JavaScript. Everything else lands in a small scratch buffer and is handed over at once.
import type { Socket } from 'net';

/** Parses a byte stream synchronously, as it arrives. */
export interface ByteConsumer {
  /** Consumes src[from, to). Throwing means the stream cannot be trusted any more (the connection ends). */
  consume(src: Buffer, from: number, to: number): void;
  /** Where the next bytes must go, when known (a payload's remaining destination); undefined otherwise. */
  destination(): Buffer | undefined;
  /** `n` bytes were written straight into the region destination() returned. */
  filled(n: number): void;
}

const SCRATCH_BYTES = 64 * 1024;
/** Scratch read size in the transmission phase: a structured reply header plus a data chunk's offset. Reading
 * little there keeps the payload that follows for a direct read into its destination. */
const HEADER_READ = 28;

export class SocketReader {
  /** Pass as `onread` to net.createConnection: the socket then reads only into buffers this reader hands out. */
  readonly onread = {
    buffer: (): Buffer => this.nextBuffer(),
    callback: (n: number, buf: Uint8Array): boolean => this.onRead(n, buf),
  };
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** The buffer of the read in progress, and whether it is a consumer's destination. */
  private handedOut: Uint8Array = this.scratch;
  private direct = false;
  private consumer?: ByteConsumer;
  private onConsumerError?: (err: Error) => void;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter?: { need: number; resolve: () => void; reject: (err: Error) => void };
  private closedWith?: Error;

  /** Call once the socket exists (its error/close end every pending read). */
  attach(socket: Socket): void {
    socket.on('error', (err) => this.close(err));
    socket.on('close', () => this.close(new Error('connection closed by the server')));
  }

  /** Fails the current and every later read (first reason wins). */
  close(reason: Error): void {
    this.closedWith ??= reason;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(this.closedWith);
    }
  }

  /** Handshake phase: exactly n bytes. */
  async read(n: number): Promise<Buffer> {
    await this.need(n);
    const first = this.chunks[0];
    if (first && first.length >= n) {
      // Common case: no copy, just a view of the chunk.
      this.consumeFromFirst(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    this.copyOut(out, 0, n);
    return out;
  }

  /**
   * Transmission phase: from now on every byte goes to `consumer` (first any already buffered). A consumer that
   * throws gets `onError` called with what it threw, and is given nothing more.
   */
  handOver(consumer: ByteConsumer, onError: (err: Error) => void): void {
    this.consumer = consumer;
    this.onConsumerError = onError;
    const rest = this.chunks;
    this.chunks = [];
    this.buffered = 0;
    for (const c of rest) if (!this.feed(c, c.length)) return;
  }

  private nextBuffer(): Buffer {
    const dest = this.consumer && !this.closedWith ? this.consumer.destination() : undefined;
    this.direct = dest !== undefined && dest.length > 0;
    const buf = this.direct ? (dest as Buffer) : this.consumer ? this.scratch.subarray(0, HEADER_READ) : this.scratch;
    this.handedOut = buf;
    return buf;
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    if (this.closedWith) return false;
    if (buf !== this.handedOut) {
      // Never expected (net reads into the buffer it was given); losing track of bytes must not go unnoticed.
      this.fail(new Error('socket read into an unexpected buffer'));
      return false;
    }
    if (this.consumer) {
      if (!this.direct) return this.feed(buf as Buffer, n);
      try {
        this.consumer.filled(n);
      } catch (e) {
        this.fail(e as Error);
        return false;
      }
      return true;
    }
    // Handshake: keep a copy (the scratch buffer is reused by the next read).
    this.chunks.push(Buffer.from((buf as Buffer).subarray(0, n)));
    this.buffered += n;
    if (this.waiter && this.buffered >= this.waiter.need) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve();
    }
    return true;
  }

  private feed(buf: Buffer, n: number): boolean {
    try {
      (this.consumer as ByteConsumer).consume(buf, 0, n);
      return true;
    } catch (e) {
      this.fail(e as Error);
      return false;
    }
  }

  private fail(err: Error): void {
    this.close(err);
    const cb = this.onConsumerError;
    this.onConsumerError = undefined;
    cb?.(err);
  }

  private need(n: number): Promise<void> {
    if (this.buffered >= n) return Promise.resolve();
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.waiter) return Promise.reject(new Error('SocketReader: concurrent reads'));
    return new Promise((resolve, reject) => {
      this.waiter = { need: n, resolve, reject };
    });
  }

  private consumeFromFirst(n: number): void {
    const first = this.chunks[0];
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
  }

  private copyOut(target: Buffer, at: number, n: number): void {
    while (n > 0) {
      const first = this.chunks[0];
      const take = Math.min(n, first.length);
      first.copy(target, at, 0, take);
      this.consumeFromFirst(take);
      at += take;
      n -= take;
    }
  }
}
