// Device read rate over a sliding window (what a progress bar wants: the current speed, not the average since mount).

export class RateMeter {
  private samples: { t: number; bytes: number }[] = [];

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  add(bytes: number): void {
    const t = this.now();
    this.samples.push({ t, bytes });
    this.prune(t);
  }

  bytesPerSecond(): number {
    const t = this.now();
    this.prune(t);
    if (this.samples.length === 0) return 0;
    const total = this.samples.reduce((s, x) => s + x.bytes, 0);
    const span = Math.max(1000, t - this.samples[0].t);
    return (total * 1000) / span;
  }

  private prune(t: number): void {
    let i = 0;
    while (i < this.samples.length && t - this.samples[i].t > this.windowMs) i++;
    if (i > 0) this.samples.splice(0, i);
  }
}
