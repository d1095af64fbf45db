// Winding down (unmounting, a cancelled acquisition) waits for the device reads in flight: our TSK's, the
// acquisition's, the cache's flush. A source that never answers them (a stalled or hostile NBD server) would hold
// it forever. While a watch is held, a read left unanswered for the grace period makes the source hang up on the
// reads in flight: they fail as a lost source, which marks nothing, and the next read reconnects.
import type { BlockSource } from '../source/block-source';

/** How long a read may go unanswered, while winding down, before the source is hung up on. */
export const STALLED_READ_GRACE_MS = 5000;
const CHECK_EVERY_MS = 500;

export class StalledReadWatch {
  private holders = 0;
  private timer?: NodeJS.Timeout;
  /** A read was hung up on: the server is not answering, so later reads get no grace. */
  private hungUp = false;

  constructor(
    /** The source now (the mount may have switched media). */
    private readonly source: () => BlockSource,
    /** What is winding down, for the log line. */
    private readonly what: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Watches until the returned release is called (holds nest). */
  hold(): () => void {
    if (this.holders++ === 0) this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0) clearInterval(this.timer);
    };
  }

  async during<T>(work: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** The winding down did not happen (the mount goes on): its reads get their grace again. */
  reset(): void {
    this.hungUp = false;
  }

  private check(): void {
    if (!this.source().hangUpStalled?.(this.hungUp ? 0 : STALLED_READ_GRACE_MS)) return;
    if (!this.hungUp) {
      this.log(`${this.what}: the source left a read unanswered for ${STALLED_READ_GRACE_MS / 1000} s; hung up on it (nothing is marked for the sectors it was reading)`);
    }
    this.hungUp = true;
  }
}
