// Group commit: completed device reads queue here; one flush (fdatasync + one SQLite transaction) covers every
// item queued while the previous flush ran, so a burst of reads costs one sync and one commit, not one each.
//
// Items someone waits for (urgent: acquire, a retry, a reader past the memory bound) are flushed at once. Items
// whose reader was already answered (lazy: the sequential /raw reader) wait a little for company: a flush
// starts when `lazyBytes` of them are queued, or `lazyDelayMs` after the first of them arrived (or after the
// previous flush ended). Each flush costs two fdatasyncs (data file, then WAL) and a SQLite commit on the event
// loop, so a streaming reader must not pay one per request.

export interface GroupCommitOptions {
  /** How long lazy items wait for company before their flush starts (ms). Default 25. */
  lazyDelayMs?: number;
  /** Queued lazy bytes that start a flush at once. Default 8 MiB. */
  lazyBytes?: number;
}

interface Queued<T> {
  item: T;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<T> {
  private queue: Queued<T>[] = [];
  private running: Promise<void> | undefined;
  private urgent = false;
  /** idle() callers waiting: no lazy waiting while someone wants everything flushed. */
  private hurrying = 0;
  private lazyQueued = 0;
  private wake: (() => void) | undefined;
  /** Items submitted, and items whose flush has ended (batches are flushed in submission order). */
  private submitted = 0;
  private ended = 0;
  private settleWaiters: { upTo: number; resolve: () => void }[] = [];
  private readonly lazyDelayMs: number;
  private readonly lazyBytes: number;

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    opts: GroupCommitOptions = {},
  ) {
    this.lazyDelayMs = opts.lazyDelayMs ?? 25;
    this.lazyBytes = opts.lazyBytes ?? 8 * 1024 * 1024;
  }

  /**
   * Resolves once `item` is durably committed; rejects with the flush's error (then nothing of it was recorded).
   * A lazy item (`lazyWeight` bytes, > 0) may wait for others before its flush starts.
   */
  submit(item: T, lazyWeight = 0): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.submitted++;
      this.queue.push({ item, resolve, reject });
      if (lazyWeight > 0) this.lazyQueued += lazyWeight;
      else this.urgent = true;
      if (this.urgent || this.lazyQueued >= this.lazyBytes) this.wakeUp();
      if (!this.running) this.running = this.drain();
    });
  }

  /** Flushes everything submitted so far without waiting for company; resolves when committed (or failed). */
  async idle(): Promise<void> {
    const done = this.hurry();
    try {
      while (this.running) await this.running;
    } finally {
      done();
    }
  }

  /**
   * Resolves when every item submitted before this call has been flushed (committed or failed; never rejects),
   * without waiting for company or for items submitted later.
   */
  settle(): Promise<void> {
    const upTo = this.submitted;
    if (this.ended >= upTo) return Promise.resolve();
    const done = this.hurry();
    return new Promise<void>((resolve) =>
      this.settleWaiters.push({
        upTo,
        resolve: () => {
          done();
          resolve();
        },
      }),
    );
  }

  /** Until the returned function is called, every item (lazy too) is flushed without waiting for company. */
  hurry(): () => void {
    this.hurrying++;
    this.wakeUp();
    let ended = false;
    return () => {
      if (!ended) this.hurrying--;
      ended = true;
    };
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async drain(): Promise<void> {
    // Let reads completing in the same turn of the event loop join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      if (!this.urgent && this.hurrying === 0 && this.lazyQueued < this.lazyBytes) {
        await new Promise<void>((r) => {
          const timer = setTimeout(() => this.wakeUp(), this.lazyDelayMs);
          this.wake = () => {
            clearTimeout(timer);
            r();
          };
        });
      }
      const batch = this.queue;
      this.queue = [];
      this.urgent = false;
      this.lazyQueued = 0;
      try {
        await this.flush(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
      this.ended += batch.length;
      if (this.settleWaiters.length > 0) {
        const ready = this.settleWaiters.filter((w) => w.upTo <= this.ended);
        this.settleWaiters = this.settleWaiters.filter((w) => w.upTo > this.ended);
        for (const w of ready) w.resolve();
      }
    }
    this.running = undefined;
  }
}
