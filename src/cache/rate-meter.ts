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
