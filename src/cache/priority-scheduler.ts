// Device access with two priorities: foreground reads (a user waiting) always start before background ones
// (acquire), and at most `concurrency` device reads run at once so a background pass cannot flood the device.

export type Priority = 'foreground' | 'background';

export class PriorityScheduler {
  private active = 0;
  private readonly queues: Record<Priority, (() => void)[]> = { foreground: [], background: [] };

  constructor(private readonly concurrency = 4) {}

  async run<T>(priority: Priority, task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency || this.queues.foreground.length > 0 || (priority === 'background' && this.queues.background.length > 0)) {
      await new Promise<void>((resolve) => this.queues[priority].push(resolve));
    } else {
      this.active++;
    }
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Hands the slot to the next waiter, foreground first. */
  private release(): void {
    const next = this.queues.foreground.shift() ?? this.queues.background.shift();
    if (next) next();
    else this.active--;
  }

  get waiting(): { foreground: number; background: number } {
    return { foreground: this.queues.foreground.length, background: this.queues.background.length };
  }
}
