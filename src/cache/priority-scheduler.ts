// Device access with two priorities: foreground reads (a user waiting) always start before background ones
// (acquire, readahead), and at most `concurrency` device reads run at once so a background pass cannot flood the
// device. A queued background task can be promoted when a user starts waiting for it (a reader arriving at a
// sector whose prefetch has not started yet must not queue behind an acquisition).

import type { Priority } from './sector-cache';

/** Pass to run() to be able to promote the task while it is still queued. */
export interface Promotable {
  /** Moves the task to the foreground queue if it has not started yet; otherwise does nothing. */
  promote(): void;
}

export class PriorityScheduler {
  private active = 0;
  private readonly queues: Record<Priority, (() => void)[]> = { foreground: [], background: [] };

  constructor(private readonly concurrency = 4) {}

  async run<T>(priority: Priority, task: () => Promise<T>, ticket?: Promotable): Promise<T> {
    if (this.active >= this.concurrency || this.queues.foreground.length > 0 || (priority === 'background' && this.queues.background.length > 0)) {
      await new Promise<void>((resolve) => {
        this.queues[priority].push(resolve);
        if (ticket && priority === 'background') {
          ticket.promote = () => {
            const i = this.queues.background.indexOf(resolve);
            if (i < 0) return;
            this.queues.background.splice(i, 1);
            this.queues.foreground.push(resolve);
          };
        }
      });
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
