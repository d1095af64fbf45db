// Exact-length reads from a stream socket, so protocol code can be written as a plain sequence of
// "read 20 bytes, then read N bytes" steps. One reader at a time (the NBD client's reply loop).
import type { Socket } from 'net';

export class SocketReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter?: { need: number; resolve: () => void; reject: (err: Error) => void };
  private closedWith?: Error;

  constructor(socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.waiter && this.buffered >= this.waiter.need) {
        const { resolve } = this.waiter;
        this.waiter = undefined;
        resolve();
      }
    });
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

  /** Reads n bytes straight into target[at..at+n) (avoids an intermediate buffer for read payloads). */
  async readInto(target: Buffer, at: number, n: number): Promise<void> {
    await this.need(n);
    this.copyOut(target, at, n);
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
