// Group commit: completed device reads queue here; one flush (fdatasync + one SQLite transaction) covers every
// item queued while the previous flush ran. Readers are answered only after their item's flush, so a reply
// always describes durable state, yet a burst of reads costs one sync and one commit, not one each.

export class GroupCommit<T> {
  private queue: { item: T; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly flush: (items: T[]) => Promise<void>) {}

  /** Resolves once `item` is durably committed; rejects with the flush's error (then nothing of it was recorded). */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) this.running = this.drain();
    });
  }

  /** Resolves when everything submitted so far is committed (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // Let reads completing in the same turn of the event loop join the first batch.
    await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.flush(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.running = undefined;
  }
}
