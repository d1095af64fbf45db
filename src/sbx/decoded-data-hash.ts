// The hash of what decode wrote, computed from the decoded chunks themselves, for an output that cannot be read
// back (a character device: /dev/null, a tape). blkar reads its output back to hash it; /dev/null reads as empty,
// so that gave the digest of nothing and "does NOT match" for a good container.
import { Hasher } from './format/multihash';

/**
 * Hashes chunks laid out by chunk index as they are decoded. Chunks may come out of order (burst interleaving,
 * a rescued container): those ahead of the next one are held, up to `maxHeld` bytes, and a chunk that never comes
 * is zeros, as in a fresh file. A chunk for a range already hashed (a second copy, or one held back too long)
 * could change bytes already hashed: the hash is then unknown, never wrong.
 */
export class DecodedDataHasher {
  /** Next chunk index to hash. */
  private next = 0;
  /** Bytes hashed so far (never past `limit`). */
  private hashedEnd = 0;
  private readonly held = new Map<number, Buffer>();
  private heldBytes = 0;
  private lost = false;
  private static readonly zeros = Buffer.alloc(1 << 20);

  constructor(
    readonly hasher: Hasher,
    private readonly chunkSize: number,
    /** The recorded file size: the last chunk is cut there. */
    private readonly limit: number,
    private readonly maxHeld = 64 << 20,
  ) {}

  /** Chunk `chunk` of the output is `data` (one whole chunk). */
  add(chunk: number, data: Uint8Array): void {
    if (this.lost) return;
    if (chunk < this.next) {
      this.lost = true;
      this.held.clear();
      return;
    }
    // A later copy of a held chunk replaces it: the last valid copy wins, as in the file.
    this.heldBytes += data.length - (this.held.get(chunk)?.length ?? 0);
    this.held.set(chunk, Buffer.from(data));
    this.drain();
    if (this.heldBytes > this.maxHeld) this.hashHeld(Infinity);
  }

  /** Completes the hash of the output's first `size` bytes; false when it is unknown (see the class comment). */
  finish(size: number): boolean {
    if (this.lost || this.hashedEnd > size) return false;
    this.hashHeld(size);
    this.hashZeros(size - this.hashedEnd);
    return true;
  }

  /** Takes the gaps before the held chunks that start before byte `end` as zeros, and hashes those chunks. */
  private hashHeld(end: number): void {
    for (const chunk of [...this.held.keys()].sort((a, b) => a - b)) {
      if (chunk * this.chunkSize >= end) break;
      if (chunk >= this.next) this.skipTo(chunk);
    }
  }

  /** The chunks before `chunk` never came: zeros, then whatever is held from there on. */
  private skipTo(chunk: number): void {
    this.hashZeros((chunk - this.next) * this.chunkSize);
    this.next = chunk;
    this.drain();
  }

  private drain(): void {
    for (let data = this.held.get(this.next); data; data = this.held.get(this.next)) {
      this.held.delete(this.next);
      this.heldBytes -= data.length;
      this.update(data);
      this.next++;
    }
  }

  private hashZeros(length: number): void {
    const zeros = DecodedDataHasher.zeros;
    for (let left = length; left > 0 && this.hashedEnd < this.limit; left -= zeros.length) {
      this.update(zeros.subarray(0, Math.min(left, zeros.length)));
    }
  }

  private update(data: Uint8Array): void {
    const room = this.limit - this.hashedEnd;
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    this.hasher.update(part);
    this.hashedEnd += part.length;
  }
}
