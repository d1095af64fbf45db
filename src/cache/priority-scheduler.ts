// Device access with two priorities: foreground reads (a user waiting) always start before background ones
// (acquire, readahead), and at most `concurrency` device reads run at once so a background pass cannot flood the
// device. A queued background task can be promoted when a user starts waiting for it (a reader arriving at a
// sector whose prefetch has not started yet must not queue behind an acquisition).
// While a reader's order is the point (The Sleuth Kit reading the filesystem metadata alongside the passes),
// narrowBackground() lets background reads hold one slot only on a slow device: a foreground read queued behind
// reads already sent to the device waits for those, and on an optical drive at 30 MB/s each 4 MiB read of the pass
// is ~130 ms. A fast one (an SSD, a page-cached image: ~1 ms per MiB) answers a small read between two large ones,
// and narrowing there cost an acquisition of 512 MiB ~80 ms (medians of 8 alternating rounds: 836 against 752 ms).

import type { Priority } from './sector-cache';

/** Pass to run() to be able to promote the task while it is still queued. */
export interface Promotable {
  /** Moves the task to the foreground queue if it has not started yet; otherwise does nothing. */
  promote(): void;
}

/** A queued task: started with the lane it runs in (a promoted background task runs as foreground). */
type Waiter = (lane: Priority) => void;

/** Background reads slower than this, per MiB and per read in flight, make a slow device (narrowed to one slot). */
export const SLOW_MS_PER_MIB = 2;
const MiB = 1024 * 1024;

export class PriorityScheduler {
  private active = 0;
  private activeBackground = 0;
  /** narrowBackground() calls not yet ended: background reads then hold one slot at most, on a slow device. */
  private narrowed = 0;
  /** Recent background reads' time per MiB, shared among the background reads in flight (a moving average). */
  private backgroundMsPerMiB = 0;
  private readonly queues: Record<Priority, Waiter[]> = { foreground: [], background: [] };

  constructor(private readonly concurrency = 4) {}

  /** Runs `task` (a device read of `bytes`, when given: background ones tell how fast the device is). */
  async run<T>(priority: Priority, task: () => Promise<T>, ticket?: Promotable, bytes = 0): Promise<T> {
    let lane = priority;
    if (this.canStart(priority)) this.start(priority);
    else {
      lane = await new Promise<Priority>((resolve) => {
        this.queues[priority].push(resolve);
        if (ticket && priority === 'background') {
          ticket.promote = () => {
            const i = this.queues.background.indexOf(resolve);
            if (i < 0) return;
            this.queues.background.splice(i, 1);
            this.queues.foreground.push(resolve);
            this.dispatch(); // a slot background reads may not take may be free for it
          };
        }
      });
    }
    const started = performance.now();
    const sharing = this.activeBackground;
    try {
      return await task();
    } finally {
      this.active--;
      if (lane === 'background') {
        this.activeBackground--;
        if (bytes > 0) this.noteBackgroundRead((performance.now() - started) / Math.max(1, sharing) / (bytes / MiB));
      }
      this.dispatch();
    }
  }

  /** Until the returned function is called, background reads take one slot at most on a slow device (reads started finish). */
  narrowBackground(): () => void {
    this.narrowed++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.narrowed--;
      this.dispatch();
    };
  }

  get waiting(): { foreground: number; background: number } {
    return { foreground: this.queues.foreground.length, background: this.queues.background.length };
  }

  private backgroundRoom(): boolean {
    const narrow = this.narrowed > 0 && this.backgroundMsPerMiB > SLOW_MS_PER_MIB;
    return this.activeBackground < (narrow ? 1 : this.concurrency);
  }

  private noteBackgroundRead(msPerMiB: number): void {
    this.backgroundMsPerMiB = this.backgroundMsPerMiB === 0 ? msPerMiB : 0.7 * this.backgroundMsPerMiB + 0.3 * msPerMiB;
  }

  private canStart(priority: Priority): boolean {
    if (this.active >= this.concurrency || this.queues.foreground.length > 0) return false;
    return priority === 'foreground' || (this.queues.background.length === 0 && this.backgroundRoom());
  }

  private start(lane: Priority): void {
    this.active++;
    if (lane === 'background') this.activeBackground++;
  }

  /** Starts waiters while there are slots: foreground first, background within its room. */
  private dispatch(): void {
    while (this.active < this.concurrency) {
      const lane: Priority | undefined = this.queues.foreground.length > 0 ? 'foreground' : this.queues.background.length > 0 && this.backgroundRoom() ? 'background' : undefined;
      if (!lane) return;
      this.start(lane);
      (this.queues[lane].shift() as Waiter)(lane);
    }
  }
}
