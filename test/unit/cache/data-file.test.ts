// The data file: what is written lands at its offset, in write(2) calls of at most MAX_WRITE_PIECE bytes.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataFile, MAX_WRITE_PIECE, readUpTo } from '../../../src/cache/data-file';
import { patternBuffer } from '../../helpers/memory-source';

describe('cache/data file', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-datafile-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes a span larger than one write(2) piece whole, at its offset, in pieces no larger than that', async () => {
    const file = await DataFile.open(path.join(tmp, 'data.img'), 8 * MAX_WRITE_PIECE);
    const span = patternBuffer(2 * MAX_WRITE_PIECE + 4096, 7);
    const handle = await fs.promises.open(path.join(tmp, 'probe'), 'w');
    const proto = Object.getPrototypeOf(handle) as { write: (...a: unknown[]) => Promise<unknown> };
    await handle.close();
    const original = proto.write;
    const lengths: number[] = [];
    proto.write = function (this: unknown, ...a: unknown[]) {
      lengths.push(a[2] as number);
      return original.apply(this, a);
    };
    try {
      await file.write(3 * 4096, span);
    } finally {
      proto.write = original;
    }
    await file.sync();
    await file.close();
    const bytes = fs.readFileSync(path.join(tmp, 'data.img'));
    expect(bytes.subarray(3 * 4096, 3 * 4096 + span.length).equals(span)).to.equal(true);
    expect(bytes.subarray(0, 3 * 4096).every((b) => b === 0)).to.equal(true);
    expect(lengths).to.deep.equal([MAX_WRITE_PIECE, MAX_WRITE_PIECE, 4096]);
  });

  it("reads 2 GiB or more in read calls Node takes (a 2 GiB --part-size aborted the process: args[3]->IsInt32())", async () => {
    // A stand-in file: its read records each call's length (Node's own asserts a length of at most 2^31 - 1).
    const lengths: number[] = [];
    const fh = {
      read: async (_buf: Buffer, _at: number, length: number) => {
        lengths.push(length);
        return { bytesRead: Math.min(length, 0x7ffff000) }; // Linux returns at most this much per read(2)
      },
    } as unknown as fs.promises.FileHandle;
    const got = await readUpTo(fh, 0, 3 * 2 ** 30); // allocated, never touched
    expect(got.length).to.equal(3 * 2 ** 30);
    expect(Math.max(...lengths)).to.be.at.most(2 ** 31 - 1);
  });
});
