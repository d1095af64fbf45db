import { expect } from 'chai';
import { RawView } from '../../../src/views/raw-view';
import { ViewErrno } from '../../../src/views/view';
import { closeMemoryCaches, memoryCache } from '../../helpers/memory-cache';

/** A medium of 8 sectors whose sector 5 is bad, through the production cache. */
async function medium() {
  return memoryCache(Buffer.alloc(8 * 512, 7), { badSectors: [5] });
}

describe('views/RawView', () => {
  afterEach(closeMemoryCaches);

  it('has the size of the medium and is read-only', async () => {
    const a = await new RawView((await medium()).cache).getattr();
    expect(a.size).to.equal(4096);
    expect(a.mode).to.equal(0o444);
  });

  it('returns the good prefix as a short read when a bad sector follows', async () => {
    const got = await new RawView((await medium()).cache).read(null, 4 * 512, 1024);
    expect(got).to.be.instanceOf(Buffer);
    expect((got as Buffer).length).to.equal(512);
  });

  it('answers EIO (never zeros, never an empty read) when the read starts at a bad sector', async () => {
    const got = await new RawView((await medium()).cache).read(null, 5 * 512 + 100, 300);
    expect(got).to.be.instanceOf(ViewErrno);
    expect((got as ViewErrno).errno).to.equal('EIO');
  });

  it('readInto fills a caller buffer like read() answers', async () => {
    const view = new RawView((await medium()).cache);
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
    const m = await medium();
    const view = new RawView(m.cache);
    expect(((await view.read(null, 7 * 512, 4096)) as Buffer).length).to.equal(512);
    expect(((await view.read(null, 4096, 512)) as Buffer).length).to.equal(0);
    expect(m.source.log.map((r) => [r.offset, r.length])).to.deep.equal([[7 * 512, 512]]);
  });
});
