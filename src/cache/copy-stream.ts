// The copying pass's streaming, while an acquisition runs (CachedDevice.fetch):
// - write-behind: the pass reads its next spans while the last ones are written to the data file (up to
//   MAX_WRITE_BEHIND bytes), so the device never waits for our writes. Each span's flight holds its sectors until
//   their commit; a failed write is kept for flush() (the pass ends with it) and fails every later early answer
//   (SectorStore.persistFailed), so the next span waits for its own commit and sees it.
// - reused span buffers: a fresh 4 MiB buffer per span costs page faults (zeroed pages from the kernel),
//   allocation and garbage collection — measured, about as much CPU as the data file's writes. A buffer is reused
//   only once nothing can read it any more: the span was read into it (BlockSource.readInto: nothing writes into
//   it after that read settles), it was never shown to a reader (SectorStore.settle with publish false) nor
//   returned in an outcome (fetch strips it), and its settle (write, checksum, or the whole commit) is over.
//   A span cut short (by sectors already cached: an identity probe's samples, a reader's reads, TSK's metadata) gets
//   a view of a reused buffer too: a fresh buffer for each made the V8 heap collect every few dozen MiB (external
//   memory pressure) — 32 of 128 spans in an acquisition of a 512 MiB image just after mounting.
// - new span buffers cut from slabs of SLAB_SPANS: a mapping that large lies almost whole on the 2 MiB transparent
//   huge pages the server's malloc asks for (src/fuse/server-preloads.ts), where a single 4 MiB buffer's unaligned
//   ends are 4 KiB pages. Page faults of an acquisition of 512 MiB on a fresh mount: ~8,300 -> ~3,200 (the rest
//   is the V8 heap and the rest of the server), server CPU 0.83 -> 0.73 s (medians of 7 alternating rounds).

/** Bytes of spans the pass may have in writing while it reads on. */
export const MAX_WRITE_BEHIND = 32 * 1024 * 1024;
/** Spare buffers kept at most (beyond them, returned buffers are left to the garbage collector). */
const MAX_SPARE = 16;
/** Span buffers per slab: 32 MiB of 4 MiB spans, about what an acquisition has in use at once (reads and write-behind). */
const SLAB_SPANS = 8;

export class CopyStream {
  private readonly spare: Buffer[] = [];
  /** The slab new span buffers are cut from, and how much of it is cut. */
  private slab: Buffer | undefined;
  private slabUsed = 0;
  /** The span-sized buffer behind each view bufferFor() handed out for a shorter span. */
  private readonly wholeOf = new WeakMap<Buffer, Buffer>();
  private writeBehind = 0;
  /** Settles of spans written behind, until they are over (they never reject). */
  private readonly behind = new Set<Promise<void>>();

  constructor(
    /** The pass's large read (streamBytes): spans up to this size get a reused buffer. */
    readonly spanBytes: number,
    /** Where a failure nobody waits for goes (SectorStore.noteUnseenFailure). */
    private readonly noteUnseenFailure: (e: unknown) => void,
  ) {}

  /** A buffer (contents undefined) of `bytes`, for a span no larger than the pass's span size: a reused one or a view of one. */
  bufferFor(bytes: number): Buffer | undefined {
    if (bytes <= 0 || bytes > this.spanBytes) return undefined;
    const whole = this.spare.pop() ?? this.fromSlab();
    if (bytes === whole.length) return whole;
    const view = whole.subarray(0, bytes);
    this.wholeOf.set(view, whole);
    return view;
  }

  /** A new span-sized buffer, cut from a slab of SLAB_SPANS of them (a slab is freed once none of its buffers is held). */
  private fromSlab(): Buffer {
    if (!this.slab || this.slabUsed + this.spanBytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(this.spanBytes * SLAB_SPANS);
      this.slabUsed = 0;
    }
    const b = this.slab.subarray(this.slabUsed, this.slabUsed + this.spanBytes);
    this.slabUsed += this.spanBytes;
    return b;
  }

  /**
   * What the pass waits for of a span's settle: nothing while the write-behind allows (an early-answered span),
   * else the settle itself. `reused` (from bufferFor) is taken back once the settle is over, either way.
   */
  async follow(settled: Promise<void>, early: Buffer | undefined, reused: Buffer | undefined): Promise<void> {
    const giveBack = () => {
      const whole = reused && (this.wholeOf.get(reused) ?? reused);
      if (whole && this.spare.length < MAX_SPARE) this.spare.push(whole);
    };
    if (!early || this.writeBehind + early.length > MAX_WRITE_BEHIND) return settled.finally(giveBack);
    const bytes = early.length;
    this.writeBehind += bytes;
    const over = settled.then(
      () => {
        this.writeBehind -= bytes;
        giveBack();
      },
      (e: unknown) => {
        this.writeBehind -= bytes;
        giveBack();
        this.noteUnseenFailure(e);
      },
    );
    this.behind.add(over);
    void over.then(() => this.behind.delete(over));
  }

  /** Resolves once every span written behind so far is written (its commit submitted) or has failed. */
  async written(): Promise<void> {
    await Promise.all([...this.behind]);
  }
}
