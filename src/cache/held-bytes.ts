// Published bytes of uncommitted flights, kept in memory for other readers until their commit (sector-store.ts):
// a sequential reader is then served prefetched bytes from memory, not from the data file. Memory stays bounded:
// past the limit the oldest written flights drop their bytes (their readers read the data file instead), and bytes
// still being written cannot be dropped, so a source faster than the data file waits (canPublish).
import type { FlightHandle } from './single-flight';

/** Published bytes of uncommitted flights kept by default; readahead raises it to its window (holdAtLeast). */
const MAX_HELD = 8 * 1024 * 1024;

export interface HeldFlight {
  readonly handle: FlightHandle;
  /** Bytes held in memory (0 for a buffer its owner reuses: never published). */
  readonly bytes: number;
  written: boolean;
}

export class HeldBytes {
  /** Oldest first. */
  private entries: HeldFlight[] = [];
  private heldBytes = 0;
  private limit = MAX_HELD;
  /** Bytes held and still being written to the data file (not droppable yet). */
  private unwritten = 0;

  /** A flight's published bytes (0 when not published) are held from now; they are being written. */
  hold(handle: FlightHandle, bytes: number): HeldFlight {
    const entry = { handle, bytes, written: false };
    this.entries.push(entry);
    this.heldBytes += bytes;
    this.unwritten += bytes;
    return entry;
  }

  /** The flight's write ended, either way: its bytes no longer wait for the data file. */
  writeEnded(entry: HeldFlight): void {
    this.unwritten -= entry.bytes;
  }

  /** The flight is in the data file: readers may read it there, and past the limit the oldest written are dropped. */
  written(entry: HeldFlight): void {
    entry.written = true;
    entry.handle.written(true);
    for (let i = 0; i < this.entries.length && this.heldBytes > this.limit; ) {
      const h = this.entries[i];
      if (!h.written) {
        i++;
        continue;
      }
      h.handle.written(false);
      this.entries.splice(i, 1);
      this.heldBytes -= h.bytes;
    }
  }

  /** The flight ended (committed, or failed): its bytes leave memory. */
  release(entry: HeldFlight): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) {
      this.entries.splice(i, 1);
      this.heldBytes -= entry.bytes;
    }
  }

  /** Bytes held now (at most the limit plus the flights being written). */
  get byteCount(): number {
    return this.heldBytes;
  }

  /** Whether `bytes` more may be published for readahead (bytes still being written cannot be dropped). */
  canPublish(bytes: number): boolean {
    return this.unwritten + bytes <= this.limit;
  }

  /** Keep at least `bytes` of published flights in memory (a readahead window). The oldest are dropped first. */
  holdAtLeast(bytes: number): void {
    this.limit = Math.max(this.limit, bytes);
  }
}
