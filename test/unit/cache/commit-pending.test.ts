// A program that closes /raw then reads /mapfile sees what it read there (raw-view.ts flushes through commitPending):
// also bytes it was served from a prefetch whose write to the data file had not even ended yet.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import type { CachedDevice } from '../../../src/cache/cached-device';
import { DataFile } from '../../../src/cache/data-file';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

describe('cache: commitPending covers every byte a reader was answered', () => {
  const writeNow = DataFile.prototype['writeNow' as keyof DataFile] as (this: DataFile, o: number, d: Buffer) => Promise<void>;
  let dir: string;
  let dev: CachedDevice | undefined;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-pending-'))));
  afterEach(async () => {
    (DataFile.prototype as unknown as Record<string, unknown>).writeNow = writeNow;
    await dev?.close();
    dev = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('bytes served from a prefetch still being written are recorded once commitPending resolves', async () => {
    // Past 128 KiB, the device answers in 20 ms and the data file takes 300 ms to write.
    (DataFile.prototype as unknown as Record<string, unknown>).writeNow = async function (this: DataFile, o: number, d: Buffer) {
      if (o >= 128 * 1024) await new Promise((r) => setTimeout(r, 300));
      return writeNow.call(this, o, d);
    };
    const img = patternBuffer(8 << 20, 3);
    class SlowPast128K extends MemorySource {
      override async read(o: number, l: number): Promise<Buffer> {
        if (o >= 128 * 1024) await new Promise((r) => setTimeout(r, 20));
        return super.read(o, l);
      }
    }
    dev = await openCache({ source: new SlowPast128K(img), cacheDir: path.join(dir, 'c'), readaheadBytes: 4 << 20 });
    await dev.read(0, 64 * 1024);
    await dev.read(64 * 1024, 64 * 1024); // a sequential reader: the readahead reads on from 128 KiB
    await new Promise((r) => setTimeout(r, 100)); // its device read is in; its write is not
    const r = await dev.read(128 * 1024, 64 * 1024); // served from the prefetch's bytes
    expect(r.data.equals(img.subarray(128 * 1024, 192 * 1024))).to.equal(true);
    await dev.commitPending(); // what closing /raw waits for
    expect(dev.statusAt(256), 'the first sector served').to.equal('+');
    expect(dev.statusAt(383), 'the last').to.equal('+');
  });
});
