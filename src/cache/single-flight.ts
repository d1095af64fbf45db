// Single flight per sector range: while a device read of [start, end) is under way, any reader needing one of
// those sectors waits for it and then looks at the committed state, instead of reading the device again.

interface Flight {
  start: number;
  end: number;
  done: Promise<void>;
}

export class InflightRanges {
  private flights: Flight[] = [];

  /** Registers [start, end) as being read; call the returned function when its outcome is committed. */
  add(start: number, end: number): () => void {
    let finish!: () => void;
    const flight: Flight = { start, end, done: new Promise<void>((r) => (finish = r)) };
    this.flights.push(flight);
    return () => {
      this.flights = this.flights.filter((f) => f !== flight);
      finish();
    };
  }

  /** The flight covering `sector`, to await (it never rejects), or undefined. */
  covering(sector: number): Promise<void> | undefined {
    for (const f of this.flights) if (f.start <= sector && sector < f.end) return f.done;
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

  /** Resolves when every flight registered so far has finished. */
  async settled(): Promise<void> {
    while (this.flights.length > 0) await Promise.all(this.flights.map((f) => f.done));
  }
}
