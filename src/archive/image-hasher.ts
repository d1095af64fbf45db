// Where the image checksums are computed: in a worker thread (digest-worker.ts) so the mount server's event loop
// stays free for FUSE, or on the calling thread when no worker can be had. Either way the caller reads the
// cache's bytes into buffers it takes from the hasher and hands them back by feeding them: at most `buffers` of
// them are out at once, which bounds the bytes in flight (the back-pressure) and the memory, and no buffer is
// allocated or copied per read.
import * as path from 'path';
import { setImmediate as nextTurn } from 'timers/promises';
import { Worker } from 'worker_threads';
import { ImageDigests, ImageDigestValues } from './image-digests';
import type { DigestReply, DigestRequest } from './digest-worker';

export interface ImageHasher {
  /** A buffer to read the next bytes into; waits while every buffer is still being hashed. */
  take(): Promise<Buffer>;
  /** Returns a taken buffer that will not be fed (its read failed). */
  giveBack(buffer: Buffer): void;
  /** Hashes buffer[0, length) next; the buffer is the hasher's again (do not touch it). */
  feed(buffer: Buffer, length: number): Promise<void>;
  /** Hashes `count` zero bytes next (unreadable sectors). */
  zeros(count: number): Promise<void>;
  /** The digests of everything fed since the start (or the last digest or reset); the next bytes start afresh. */
  digest(): Promise<ImageDigestValues>;
  /** Forgets what was fed: the next bytes start afresh. */
  reset(): void;
  /** Ends the hasher (terminates its worker); pending calls reject. */
  close(): Promise<void>;
}

/** The hasher failed (its worker died): what it was fed is lost, hashing must start again. */
export class HasherFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HasherFailedError';
  }
}

const CHUNK_BYTES = 4 << 20;
const WORKER_BUFFERS = 3;
/** The calling thread hashes in slices this large, letting its event loop run in between. */
const HASH_SLICE = 256 << 10;

/** Buffers lent out and given back; take() waits for one when all are out. */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor(count: number, bytes: number) {
    // allocUnsafeSlow: each buffer owns its whole ArrayBuffer, so it can be transferred to a worker and back.
    for (let i = 0; i < count; i++) this.free.push(Buffer.allocUnsafeSlow(bytes));
  }

  take(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  put(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w.resolve(b);
    else this.free.push(b);
  }

  fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
}

/** Hashes in a worker thread; the buffers travel to it and back by transfer. */
export class WorkerHasher implements ImageHasher {
  private readonly pool = new BufferPool(WORKER_BUFFERS, CHUNK_BYTES);
  private readonly digestWaiters: { resolve: (v: ImageDigestValues) => void; reject: (e: Error) => void }[] = [];
  private failure: HasherFailedError | null = null;
  /** Buffers and digests the worker has not answered yet: the worker keeps the process alive only while > 0. */
  private pending = 0;
  /** False once the worker thread has ended. */
  running = true;

  private constructor(private readonly worker: Worker) {
    worker.unref();
    worker.on('message', (m: DigestReply) => {
      this.settle();
      if (m.kind === 'free') this.pool.put(Buffer.from(m.buffer));
      else this.digestWaiters.shift()?.resolve(m.values);
    });
    worker.on('error', (e) => this.fail(`the checksum worker failed: ${e.message}`));
    worker.on('exit', (code) => this.fail(`the checksum worker exited (code ${code})`));
    worker.once('exit', () => (this.running = false));
  }

  /** A hasher with its own worker thread, or null when none can be started. */
  static start(): WorkerHasher | null {
    try {
      return new WorkerHasher(new Worker(path.join(__dirname, 'digest-worker.js')));
    } catch {
      return null;
    }
  }

  take(): Promise<Buffer> {
    return this.pool.take();
  }

  giveBack(buffer: Buffer): void {
    this.pool.put(buffer);
  }

  async feed(buffer: Buffer, length: number): Promise<void> {
    if (this.failure) throw this.failure;
    const ab = buffer.buffer as ArrayBuffer;
    if (buffer.byteOffset !== 0 || length > ab.byteLength) throw new RangeError('feed() takes a buffer from take()');
    this.post({ kind: 'bytes', buffer: ab, length }, [ab]);
  }

  async zeros(count: number): Promise<void> {
    if (this.failure) throw this.failure;
    this.worker.postMessage({ kind: 'zeros', count } satisfies DigestRequest);
  }

  digest(): Promise<ImageDigestValues> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.digestWaiters.push({ resolve, reject });
      this.post({ kind: 'digest' });
    });
  }

  reset(): void {
    if (!this.failure) this.worker.postMessage({ kind: 'reset' } satisfies DigestRequest);
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    this.fail('the checksum worker was stopped');
    await this.worker.terminate();
    this.running = false;
  }

  private post(m: DigestRequest, transfer: ArrayBuffer[] = []): void {
    if (this.pending++ === 0) this.worker.ref(); // alive while it has work
    this.worker.postMessage(m, transfer);
  }

  private settle(): void {
    if (--this.pending === 0) this.worker.unref();
  }

  private fail(message: string): void {
    if (this.failure) return;
    this.failure = new HasherFailedError(message);
    this.pool.fail(this.failure);
    for (const w of this.digestWaiters.splice(0)) w.reject(this.failure);
  }
}

/** Hashes on the calling thread, in slices (the fallback when no worker thread can be had). */
export class MainThreadHasher implements ImageHasher {
  private digests = new ImageDigests();
  private readonly pool = new BufferPool(1, CHUNK_BYTES);

  take(): Promise<Buffer> {
    return this.pool.take();
  }

  giveBack(buffer: Buffer): void {
    this.pool.put(buffer);
  }

  async feed(buffer: Buffer, length: number): Promise<void> {
    try {
      for (let o = 0; o < length; o += HASH_SLICE) {
        this.digests.update(buffer.subarray(o, Math.min(length, o + HASH_SLICE)));
        await nextTurn(); // keep the event loop free between slices
      }
    } finally {
      this.pool.put(buffer);
    }
  }

  async zeros(count: number): Promise<void> {
    for (let left = count; left > 0; left -= HASH_SLICE) {
      this.digests.zeros(Math.min(left, HASH_SLICE));
      await nextTurn();
    }
  }

  async digest(): Promise<ImageDigestValues> {
    const values = this.digests.digest();
    this.digests = new ImageDigests();
    return values;
  }

  reset(): void {
    this.digests = new ImageDigests();
  }

  async close(): Promise<void> {
    this.pool.fail(new HasherFailedError('the hasher was stopped'));
  }
}

/** A worker hasher when a worker thread can be had, else one on the calling thread. */
export function startImageHasher(): ImageHasher {
  return WorkerHasher.start() ?? new MainThreadHasher();
}
