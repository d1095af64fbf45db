// Device read rate over a sliding window (what a progress bar wants: the current speed, not the average since mount).
// add() is on every device read: O(1) amortised (a queue with a moving head and a running total), since a fast
// source puts tens of thousands of samples in the window.

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];
  private head = 0;
  private total = 0;

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = () => Date.now(),
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
    const span = Math.max(1000, t - this.samples[this.head].t);
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
