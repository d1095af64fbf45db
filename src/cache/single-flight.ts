// Single flight per sector range: from the moment a device read of [start, end) is decided until its outcome is
// committed, the range is "in flight". A reader needing one of those sectors never reads the device again: it is
// served the flight's bytes once they are in hand (the same bytes the first reader got), or waits for the commit
// and then looks at the committed state.

export interface Flight {
  readonly start: number;
  readonly end: number;
  /** Resolves when the flight is over: its outcome committed (or abandoned). Never rejects. */
  readonly done: Promise<void>;
  /** Resolves when `data` is published or the flight is over, whichever comes first. Never rejects. */
  readonly ready: Promise<void>;
  /** Bytes of all sectors [start, end), all good, once published (before their commit); dropped again when
   * memory is short once they are in the data file (`written`). */
  data?: Buffer;
  /** The bytes of [start, end) are in the data file (not yet durable): readers may read them there. */
  written?: boolean;
}

export interface FlightHandle {
  /** The flight as readers see it (InflightRanges.covering returns this object). */
  readonly flight: Flight;
  /** Makes the bytes of the whole range available to readers waiting on this flight. */
  publish(data: Buffer): void;
  /** The bytes are in the data file; `keep` false drops the published buffer (readers read the data file). */
  written(keep: boolean): void;
  /** Ends the flight (call once its outcome is committed, or when it failed). */
  release(): void;
  /** Resolves once the flight holds no published bytes any more (dropped by written(false), or released). */
  readonly unpublished: Promise<void>;
}

interface FlightState extends Flight {
  finish: () => void;
  wake: () => void;
}

export class InflightRanges {
  private flights: FlightState[] = [];

  /** Registers [start, end) as being read (synchronously: concurrent callers see it at once). */
  add(start: number, end: number): FlightHandle {
    let finish!: () => void;
    let wake!: () => void;
    let dropped!: () => void;
    const unpublished = new Promise<void>((r) => (dropped = r));
    const done = new Promise<void>((r) => (finish = r));
    const ready = new Promise<void>((r) => (wake = r));
    const flight: FlightState = { start, end, done, ready, finish, wake };
    this.flights.push(flight);
    return {
      flight,
      unpublished,
      publish: (data) => {
        flight.data = data;
        flight.wake();
      },
      written: (keep) => {
        flight.written = true;
        if (!keep) {
          flight.data = undefined;
          dropped();
        }
        flight.wake();
      },
      release: () => {
        const i = this.flights.indexOf(flight);
        if (i >= 0) this.flights.splice(i, 1);
        flight.data = undefined;
        dropped();
        flight.wake();
        flight.finish();
      },
    };
  }

  /** The flight covering `sector`, or undefined. */
  covering(sector: number): Flight | undefined {
    // Newest first: a sequential reader's next sectors are usually next to its latest flight.
    for (let i = this.flights.length - 1; i >= 0; i--) {
      const f = this.flights[i];
      if (f.start <= sector && sector < f.end) return f;
    }
    return undefined;
  }

  /** Start of the first flight beginning after `sector` (Infinity if none): a new read must stop there. */
  nextStartAfter(sector: number): number {
    let next = Infinity;
    for (const f of this.flights) if (f.start > sector && f.start < next) next = f.start;
    return next;
  }

  get size(): number {
    return this.flights.length;
  }

  /** Ends of the flights whose bytes readers may have been served (published, or in the data file). */
  answered(): Promise<void>[] {
    return this.flights.filter((f) => f.data !== undefined || f.written).map((f) => f.done);
  }

  /** Resolves when every flight registered so far has finished. */
  async settled(): Promise<void> {
    while (this.flights.length > 0) await Promise.all(this.flights.map((f) => f.done));
  }
}
