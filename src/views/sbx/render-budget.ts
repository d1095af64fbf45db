// One memory budget for rendered /sbx/image.sbx units shared by every open file of the process: renders in
// flight (their source and output bytes) wait for room, and rendered units kept for later reads are dropped
// least recently used first, so the server's memory stays bounded whatever the container's parameters and
// however many readers copy it at once.

export class RenderBudget {
  private inFlight = 0;
  private peak = 0;
  private readonly waiting: Array<{ bytes: number; go: () => void }> = [];
  /** Kept units in least-recently-used order, with their size and how to drop them. */
  private readonly kept = new Map<object, { bytes: number; drop: () => void }>();
  private keptBytes = 0;
  private keptPeak = 0;

  /** `renderBytes`: at most this much in renders at once; `keepBytes`: at most this much kept. */
  constructor(
    readonly renderBytes: number,
    readonly keepBytes: number,
  ) {}

  /**
   * Waits until `bytes` more fit into the renders in flight (first come, first served; a job larger than the
   * whole budget runs alone), then runs `work` and gives the room back.
   */
  async rendering<T>(bytes: number, work: () => Promise<T>): Promise<T> {
    if (this.waiting.length > 0 || (this.inFlight > 0 && this.inFlight + bytes > this.renderBytes)) {
      await new Promise<void>((go) => this.waiting.push({ bytes, go })); // wake() reserved the bytes
    } else {
      this.inFlight += bytes;
    }
    this.peak = Math.max(this.peak, this.inFlight);
    try {
      return await work();
    } finally {
      this.inFlight -= bytes;
      this.wake();
    }
  }

  /** Keeps a rendered unit (most recently used), dropping the least recently used ones over the budget. */
  keep(key: object, bytes: number, drop: () => void): void {
    this.forget(key);
    this.kept.set(key, { bytes, drop });
    this.keptBytes += bytes;
    for (const [k, e] of this.kept) {
      if (this.keptBytes <= this.keepBytes || k === key) break;
      this.forget(k);
      e.drop();
    }
    this.keptPeak = Math.max(this.keptPeak, this.keptBytes);
  }

  /** Marks a kept unit as just used. */
  touch(key: object): void {
    const e = this.kept.get(key);
    if (!e) return;
    this.kept.delete(key);
    this.kept.set(key, e);
  }

  /** No longer kept (its owner dropped it). */
  forget(key: object): void {
    const e = this.kept.get(key);
    if (!e) return;
    this.kept.delete(key);
    this.keptBytes -= e.bytes;
  }

  /** Bytes in renders now, the most ever, bytes kept now, the most ever (for tests and diagnostics). */
  stats(): { inFlight: number; inFlightPeak: number; kept: number; keptPeak: number } {
    return { inFlight: this.inFlight, inFlightPeak: this.peak, kept: this.keptBytes, keptPeak: this.keptPeak };
  }

  /** Starts the peaks again from the current figures. */
  resetPeaks(): void {
    this.peak = this.inFlight;
    this.keptPeak = this.keptBytes;
  }

  private wake(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (this.inFlight > 0 && this.inFlight + next.bytes > this.renderBytes) return;
      this.waiting.shift();
      this.inFlight += next.bytes; // reserved for it now: it resumes later, and nothing else may take its room
      next.go();
    }
  }
}

/** The process's budget: 64 MiB of renders in flight (a few units per reader) and 64 MiB of kept units. */
export const renderBudget = new RenderBudget(64 << 20, 64 << 20);
