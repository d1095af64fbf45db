// Writing decoded chunks to a file output (decode to a file): batched by a chunk-aligned window.
import { promises as fsp } from 'fs';
import { isBlankBlock } from './format/header';
import { writeFully } from './file-io';

/**
 * Collects decoded chunks in a chunk-aligned window of the output (~8 MiB) and writes each run of them in one
 * call when the window moves. A payload is only 112–4080 bytes, and burst interleaving sends chunks out of
 * order, but only within a super block set, so nearly every chunk lands in the current window.
 */
export class WindowWriter {
  private readonly buf: Buffer;
  private readonly have: Uint8Array;
  /** First chunk index of the window; -1 before the first write. */
  private first = -1;

  constructor(
    private readonly handle: fsp.FileHandle,
    private readonly chunkSize: number,
    private readonly chunks = Math.max(256, Math.floor((8 << 20) / chunkSize)),
  ) {
    this.buf = Buffer.allocUnsafe(chunks * chunkSize);
    this.have = new Uint8Array(chunks);
  }

  /** The end of the last chunk written so far. */
  end = 0;

  /** Queues `data` (one whole chunk) as chunk `chunk` of the output. */
  async write(chunk: number, data: Uint8Array): Promise<void> {
    this.end = Math.max(this.end, (chunk + 1) * this.chunkSize);
    if (this.first < 0 || chunk < this.first || chunk >= this.first + this.chunks) {
      await this.flush();
      this.first = chunk - (chunk % this.chunks);
    }
    const i = chunk - this.first;
    this.buf.set(data, i * this.chunkSize);
    this.have[i] = 1;
  }

  /**
   * blkar's multi-pass skip rule: true iff the output holds nothing worth keeping at chunk `chunk` — it ends
   * before the chunk's end, or the chunk is all zeros. Queued chunks count as written.
   */
  async isFree(chunk: number): Promise<boolean> {
    const cs = this.chunkSize;
    const i = chunk - this.first;
    if (this.first >= 0 && i >= 0 && i < this.chunks && this.have[i]) return isBlankBlock(this.buf, i * cs, cs);
    const existing = Buffer.alloc(cs);
    const { bytesRead } = await this.handle.read(existing, 0, cs, chunk * cs);
    return bytesRead < cs || isBlankBlock(existing);
  }

  async flush(): Promise<void> {
    const cs = this.chunkSize;
    let i = 0;
    while (i < this.chunks) {
      if (!this.have[i]) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < this.chunks && this.have[j]) j++;
      await writeFully(this.handle, this.buf.subarray(i * cs, j * cs), (this.first + i) * cs);
      i = j;
    }
    this.have.fill(0);
  }
}
