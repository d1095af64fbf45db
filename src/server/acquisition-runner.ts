// One acquisition at a time per server: `blkfs acquire` clients start it or join the running one; it stops
// (cleanly, through the AbortSignal) when every attached client has cancelled or hung up.

export interface Acquirer {
  acquire(opts: { signal?: AbortSignal; onProgress?: (p: unknown) => void; streamBytes?: number }): Promise<unknown>;
}

/** The copying pass's read on a healthy medium: large reads keep the NBD pipe full (a failed one is re-read in
 * 64 KiB clusters, so a bad area is still mapped at ddrescue's granularity). */
const STREAM_BYTES = 4 * 1024 * 1024;

export class AcquisitionRunner {
  private running: { promise: Promise<unknown>; abort: AbortController; clients: number } | undefined;

  constructor(private readonly device: Acquirer) {}

  get active(): boolean {
    return this.running !== undefined;
  }

  /** Runs (or joins) the acquisition; `detach` is called by the client when it leaves. */
  join(): { result: Promise<unknown>; detach: () => void } {
    if (!this.running) {
      const abort = new AbortController();
      const promise = this.device
        .acquire({ signal: abort.signal, streamBytes: STREAM_BYTES })
        // A stop asked for is an outcome, not a failure (the cache may resolve or reject on abort).
        .catch((err: unknown) => {
          if (abort.signal.aborted) return { cancelled: true };
          throw err;
        })
        .finally(() => {
        if (this.running?.abort === abort) this.running = undefined;
      });
      this.running = { promise, abort, clients: 0 };
    }
    const run = this.running;
    run.clients++;
    let left = false;
    return {
      result: run.promise,
      detach: () => {
        if (left) return;
        left = true;
        run.clients--;
        if (run.clients === 0) run.abort.abort();
      },
    };
  }

  /** Stops any acquisition and waits for it to wind down (server shutdown). */
  async stop(): Promise<void> {
    const run = this.running;
    if (!run) return;
    run.abort.abort();
    await run.promise.catch(() => {});
  }
}
