// An image as its mapfile vouches for it: the rescued bytes as they are in the file, every other byte EIO, as /raw
// answers at a sector its map does not call '+'. The image file here holds stale bytes (0xee) where the map is not '+'.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MaskedImageView } from '../../../src/views/masked-image-view';
import { ViewErrno } from '../../../src/views/view';

describe('views/MaskedImageView', () => {
  let dir: string;
  let image: string;
  /** 4 KiB: bytes 0-1023 and 1024-2047 rescued (two '+' blocks), 2048-2559 not, 2560-3071 rescued, the rest not. */
  const rescued: [number, number][] = [
    [0, 1024],
    [1024, 2048],
    [2560, 3072],
  ];
  const bytes = Buffer.alloc(4096, 0xee);
  for (let i = 0; i < 4096; i++) if (rescued.some(([s, e]) => i >= s && i < e)) bytes[i] = i & 0xff;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-masked-view-'));
    image = path.join(dir, 'disk.img');
    fs.writeFileSync(image, bytes);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function read(view: MaskedImageView, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const h = await view.open();
    try {
      return await view.read(h, offset, length);
    } finally {
      await view.release(h);
    }
  }

  it('reads rescued bytes as the image holds them, across the border of two rescued blocks', async () => {
    const got = await read(new MaskedImageView(image, rescued, 4096), 1000, 1000);
    expect(got).to.deep.equal(bytes.subarray(1000, 2000));
  });

  it('gives the rescued bytes before an unrescued one as a short read, then EIO from it on: never its stale bytes', async () => {
    const view = new MaskedImageView(image, rescued, 4096);
    expect(await read(view, 1536, 1024)).to.deep.equal(bytes.subarray(1536, 2048));
    for (const at of [2048, 2559, 3072, 4095]) {
      const got = await read(view, at, 512);
      expect(got, String(at)).to.be.instanceOf(ViewErrno);
      expect((got as ViewErrno).errno).to.equal('EIO');
    }
    expect(await read(view, 2560, 4096)).to.deep.equal(bytes.subarray(2560, 3072));
  });

  it('has the size of the medium, which may go past the end of the image (EIO there), and is read-only', async () => {
    const view = new MaskedImageView(image, rescued, 8192);
    expect(await view.getattr()).to.include({ size: 8192, mode: 0o444 });
    expect(await read(view, 6000, 100)).to.be.instanceOf(ViewErrno);
    expect(await read(view, 8192, 100)).to.deep.equal(Buffer.alloc(0)); // end of file
  });

  it('answers EIO where the image ends before bytes its mapfile calls rescued (a device or file shorter than its map)', async () => {
    const view = new MaskedImageView(image, [[0, 6000]], 6000);
    expect(await read(view, 4000, 1000)).to.deep.equal(bytes.subarray(4000, 4096));
    expect(await read(view, 4096, 100)).to.be.instanceOf(ViewErrno);
  });
});
