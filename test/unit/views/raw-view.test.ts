import { expect } from 'chai';
import { RangeRead, RangeReader } from '../../../src/views/device-cache';
import { RawView } from '../../../src/views/raw-view';
import { ViewErrno } from '../../../src/views/view';

/** A medium of 8 sectors whose sector 5 is bad, answering like CachedDevice.read. */
function medium(): RangeReader & { asked: [number, number][] } {
  const bytes = Buffer.alloc(8 * 512, 7);
  const asked: [number, number][] = [];
  return {
    size: bytes.length,
    sectorSize: 512,
    asked,
    async read(offset: number, length: number): Promise<RangeRead> {
      asked.push([offset, length]);
      const bad = 5 * 512;
      const end = Math.min(offset + length, bytes.length);
      if (offset < bad + 512 && end > bad) return { data: bytes.subarray(offset, Math.max(offset, bad)), errorAt: Math.max(offset, bad) };
      return { data: bytes.subarray(offset, end) };
    },
  };
}

describe('views/RawView', () => {
  it('has the size of the medium and is read-only', async () => {
    const a = await new RawView(medium()).getattr();
    expect(a.size).to.equal(4096);
    expect(a.mode).to.equal(0o444);
  });

  it('returns the good prefix as a short read when a bad sector follows', async () => {
    const got = await new RawView(medium()).read(null, 4 * 512, 1024);
    expect(got).to.be.instanceOf(Buffer);
    expect((got as Buffer).length).to.equal(512);
  });

  it('answers EIO (never zeros, never an empty read) when the read starts at a bad sector', async () => {
    const got = await new RawView(medium()).read(null, 5 * 512 + 100, 300);
    expect(got).to.be.instanceOf(ViewErrno);
    expect((got as ViewErrno).errno).to.equal('EIO');
  });

  it('readInto fills a caller buffer like read() answers, also from a reader without readInto', async () => {
    const view = new RawView(medium());
    const buf = Buffer.alloc(1024, 0xee);
    expect(await view.readInto(null, 4 * 512, buf, 1024)).to.equal(512);
    expect(buf.subarray(0, 512).equals(Buffer.alloc(512, 7))).to.equal(true);
    expect(buf[512], 'nothing past the short read is touched').to.equal(0xee);
    const bad = await view.readInto(null, 5 * 512, buf, 512);
    expect(bad).to.be.instanceOf(ViewErrno);
    expect((bad as ViewErrno).errno).to.equal('EIO');
    expect(await view.readInto(null, 4096, buf, 512)).to.equal(0);
  });

  it('clamps at the end of the medium and reads nothing past it', async () => {
    const m = medium();
    const view = new RawView(m);
    expect(((await view.read(null, 7 * 512, 4096)) as Buffer).length).to.equal(512);
    expect(((await view.read(null, 4096, 512)) as Buffer).length).to.equal(0);
    expect(m.asked).to.deep.equal([[7 * 512, 512]]);
  });
});
