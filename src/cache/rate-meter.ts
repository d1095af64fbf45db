// Device read rate over a sliding window (what a progress bar wants: the current speed, not the average since mount).
// add() is on every device read: O(1) amortised (a queue with a moving head and a running total), since a fast
// source puts tens of thousands of samples in the window.

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  private head = 0;
  private total = 0;

  /**
   * `minSpanMs`: the bytes are counted over at least this long (a lone first sample is not a huge rate); a window
   * shorter than a second is its own minimum, so a reading that just began is seen at its real rate at once.
   */
  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = () => Date.now(),
    private readonly minSpanMs = Math.min(1000, windowMs),
  ) {}

  add(bytes: number): void {
    const t = this.now();
    this.samples.push({ t, bytes });
    this.total += bytes;
    this.prune(t);
  }

  bytesPerSecond(): number {
    const t = this.now();
    this.prune(t);
    if (this.head === this.samples.length) return 0;
    const span = Math.max(this.minSpanMs, t - this.samples[this.head].t);
    return (this.total * 1000) / span;
  }

  private prune(t: number): void {
    const s = this.samples;
    while (this.head < s.length && t - s[this.head].t > this.windowMs) this.total -= s[this.head++].bytes;
    if (this.head > 1024 && this.head * 2 > s.length) {
      this.samples = s.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * How fast bytes go by right now: the higher of the last quarter second's rate and the last second's. A fast
 * reading counts as fast from its first ~30 MB (over a whole second alone it counted as slow for its first 100 MB,
 * and the image hashing, which waits while the device is read fast, ran beside the first 400-500 ms of a cold dd or
 * ddrescue of /raw: 0.1-0.15 s of CPU measured from /proc on 2 cores, 0.4 s under the profiler), and stays fast
 * through a dip of a few hundred ms (a loaded machine stalls a reader that long: over a quarter second alone the
 * hashing started then).
 */
export class RateNow {
  private readonly quarter = new RateMeter(250);
  private readonly second = new RateMeter(1000);

  add(bytes: number): void {
    this.quarter.add(bytes);
    this.second.add(bytes);
  }

  bytesPerSecond(): number {
    return Math.max(this.quarter.bytesPerSecond(), this.second.bytesPerSecond());
  }
}
