// One acquisition at a time per server: `blkfs acquire` clients start it or join the running one; it stops
// (cleanly, through the AbortSignal) when every attached client has cancelled or hung up. A client that asks for
// other ddrescue options (-n, -N, -i/-s) than the running acquisition's is refused: joining would end its run with
// what it did not ask for. A joiner with no wish of its own (`blkfs archive`, the /sbx scan) joins any.
import { ByteDomain, describeScope, RescueScope, sameScope } from '../cache/rescue-scope';
import { UserError } from '../errors';
import { SourceLostError } from '../source/block-source';

export interface Acquirer {
  acquire(opts: { signal?: AbortSignal; onProgress?: (p: unknown) => void; streamBytes?: number; scope?: RescueScope }): Promise<unknown>;
}

/** The copying pass's read on a healthy medium: large reads keep the NBD pipe full (a failed one is re-read in
 * 64 KiB clusters, so a bad area is still mapped at ddrescue's granularity). */
const STREAM_BYTES = 4 * 1024 * 1024;

export class AcquisitionRunner {
  private running: { promise: Promise<unknown>; abort: AbortController; clients: number; scope: RescueScope } | undefined;
  /** stop() was called (the server shuts down): a client waiting for a stopping run to end starts none. */
  private stopped = false;

  constructor(
    private readonly device: Acquirer,
    /** The mount log: each acquisition's start, options and how long it took (ddrescue prints its run time too). */
    private readonly log: (message: string) => void = () => {},
  ) {}

  get active(): boolean {
    return this.running !== undefined;
  }

  /** The running acquisition's options, ddrescue-style (e.g. "-n -i 0x100000 -s 0x80000"), if one runs. */
  get options(): string | undefined {
    return this.running && describeScope(this.running.scope);
  }

  /** The running acquisition's domain (-i/-s), if it has one. */
  get domain(): ByteDomain | undefined {
    return this.running?.scope.domain;
  }

  /** Throws a UserError when an acquisition runs with a scope other than `wish` (undefined: any will do). */
  check(wish: RescueScope | undefined): void {
    const run = this.running;
    if (!run || run.abort.signal.aborted || wish === undefined || sameScope(run.scope, wish)) return;
    throw new UserError(
      `an acquisition with other options is already running on this mount (${describeScope(run.scope)}; asked: ${describeScope(wish)}): ` +
        'wait for it to end, or stop it (Ctrl-C in its blkfs acquire), then run blkfs acquire again',
    );
  }

  /** Runs (or joins) the acquisition; `detach` is called by the client when it leaves. */
  join(wish?: RescueScope): { result: Promise<unknown>; detach: () => void } {
    this.check(wish);
    if (this.running?.abort.signal.aborted) return this.afterStopping(this.running.promise, wish);
    if (!this.running) {
      const abort = new AbortController();
      const scope = wish ?? {};
      const what = `acquisition (${describeScope(scope)})`;
      const t0 = Date.now();
      const after = () => `after ${((Date.now() - t0) / 1000).toFixed(3)} s`;
      this.log(`${what} started`);
      const promise = this.device
        .acquire({ signal: abort.signal, streamBytes: STREAM_BYTES, scope })
        // A stop asked for is an outcome, not a failure: the cache resolves, or the reads hung up on while stopping
        // (stalled-reads.ts) or refused by another medium fail as a lost source, which marks nothing. Anything else is
        // a failure all the same, e.g. the commit of the last spans read (their bytes not recorded): said, not hidden.
        .catch((err: unknown) => {
          if (abort.signal.aborted && err instanceof SourceLostError) return { cancelled: true };
          throw err;
        })
        .then(
          (result) => {
            this.log(`${what} ${abort.signal.aborted ? 'stopped' : 'ended'} ${after()}`);
            return result;
          },
          (err: unknown) => {
            this.log(`${what} failed ${after()}: ${err instanceof Error ? err.message : String(err)}`);
            throw err;
          },
        )
        .finally(() => {
          if (this.running?.abort === abort) this.running = undefined;
        });
      this.running = { promise, abort, clients: 0, scope };
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

  /**
   * A client arriving while the last one's run is stopping (its clients all left; it waits for its reads in flight):
   * joined to it, it was told "interrupted" having read nothing. It gets a run of its own once that one has ended.
   */
  private afterStopping(stopping: Promise<unknown>, wish: RescueScope | undefined): { result: Promise<unknown>; detach: () => void } {
    let left = false;
    let inner: { detach: () => void } | undefined;
    const result = stopping
      .catch(() => undefined) // its own clients heard of its failure
      .then(() => {
        if (left || this.stopped) return { cancelled: true };
        const next = this.join(wish);
        inner = next;
        return next.result;
      });
    return {
      result,
      detach: () => {
        left = true;
        inner?.detach();
      },
    };
  }

  /** Stops any acquisition and waits for it to wind down (server shutdown); rejects if it failed meanwhile. */
  async stop(): Promise<void> {
    this.stopped = true;
    const run = this.running;
    if (!run) return;
    run.abort.abort();
    await run.promise;
  }
}
