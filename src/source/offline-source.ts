// The source of a cache opened without its medium (`blkfs import|export --cache DIR`): it answers exactly the cache's
// own identity probe sectors, from a file that holds them (the cache's data file, where creation stored them), and
// refuses everything else as a lost source. So opening passes its identity check, and no other read can reach the
// data file through it: nothing can ever be recorded '+' from it.
import * as fs from 'fs';
import { BlockSource, SourceLostError, SourceStats } from './block-source';

export class OfflineSource implements BlockSource {
  private readonly probe: Set<number>;

  constructor(
    private readonly file: string,
    readonly size: number,
    readonly sectorSize: number,
    probeSectors: readonly number[],
  ) {
    this.probe = new Set(probeSectors);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const ss = this.sectorSize;
    const first = Math.floor(offset / ss);
    const last = Math.ceil((offset + length) / ss);
    for (let s = first; s < last; s++) {
      if (!this.probe.has(s)) throw new SourceLostError('the medium is not connected (offline cache)');
    }
    const fh = await fs.promises.open(this.file, 'r');
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      if (bytesRead !== length) throw new SourceLostError('the cache data file is short');
      return buf;
    } finally {
      await fh.close();
    }
  }

  stats(): SourceStats {
    return { reads: 0, bytes: 0, failedReads: 0 };
  }

  async close(): Promise<void> {}
}
