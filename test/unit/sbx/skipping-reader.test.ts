import { expect } from 'chai';
import { RandomReader } from '../../../src/sbx/reader';
import { SkippingReader } from '../../../src/sbx/skipping-reader';

/** A medium whose reads fail with EIO when they touch a bad range (like a device or blkfs /raw), counting requests. */
class FailingMedium implements RandomReader {
  readonly requests: [number, number][] = [];
  constructor(
    private readonly bytes: Buffer,
    private readonly bad: [number, number][],
    private readonly errorCode = 'EIO',
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(this.size, offset + length);
    this.requests.push([offset, end]);
    if (this.bad.some(([a, b]) => a < end && offset < b)) throw Object.assign(new Error('EIO: i/o error, read'), { code: this.errorCode });
    return this.bytes.subarray(offset, end);
  }
}

describe('SkippingReader (scanning past unreadable sectors)', () => {
  const bytes = Buffer.alloc(256 * 1024, 7);

  it('narrows a failed read to the bad 512-byte units: zeros there, the real bytes elsewhere, the ranges listed', async () => {
    const medium = new FailingMedium(bytes, [[5000, 5100], [70000, 71000]]);
    const skipped: [number, number][] = [];
    const r = new SkippingReader(medium, (a, b) => skipped.push([a, b]));
    const got = await r.read(0, 100_000);
    expect(got.length).to.equal(100_000);
    expect(r.unreadable).to.deep.equal([[4608, 5120], [69632, 71168]]);
    expect(skipped).to.deep.equal([[4608, 5120], [69632, 70144], [70144, 70656], [70656, 71168]]);
    expect(r.bytesUnreadable).to.equal(512 + 3 * 512);
    expect(got.subarray(4608, 5120).every((b) => b === 0)).to.equal(true);
    expect(got.subarray(0, 4608).every((b) => b === 7) && got.subarray(5120, 69632).every((b) => b === 7)).to.equal(true);
    expect(r.overlapsUnreadable(4000, 4609)).to.equal(true);
    expect(r.overlapsUnreadable(5120, 69632)).to.equal(false);
  });

  it('never asks the medium again for what it knows is unreadable', async () => {
    const medium = new FailingMedium(bytes, [[8192, 8704]]);
    const r = new SkippingReader(medium);
    await r.read(0, 65536);
    const touching = () => medium.requests.filter(([a, b]) => a < 8704 && 8192 < b).length;
    const before = touching();
    const again = await r.read(4096, 16384); // overlaps the known bad unit
    expect(again.subarray(8192 - 4096, 8704 - 4096).every((b) => b === 0)).to.equal(true);
    expect(touching()).to.equal(before);
  });

  it('other errors are not skipped: a lost medium is a failure, not an empty scan', async () => {
    const r = new SkippingReader(new FailingMedium(bytes, [[0, 512]], 'ENXIO'));
    let err: unknown;
    await r.read(0, 4096).catch((e) => (err = e));
    expect((err as NodeJS.ErrnoException).code).to.equal('ENXIO');
  });
});
