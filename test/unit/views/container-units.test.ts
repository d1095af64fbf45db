import { expect } from 'chai';
import { makeContainerSpec } from '../../../src/sbx/format/container-spec';
import { readContainer, rendererFor } from '../../../src/sbx/format/random-access';
import { BufferReader } from '../../../src/sbx/reader';
import { ContainerUnits, unitGeometry } from '../../../src/views/sbx/container-units';
import { RenderBudget } from '../../../src/views/sbx/render-budget';
import { pseudoRandom } from './containers';

const UID = Buffer.from('0123456789ab', 'hex');

class CountingReader extends BufferReader {
  bytesRead = 0;
  override async read(offset: number, length: number): Promise<Buffer> {
    const got = await super.read(offset, length);
    this.bytesRead += got.length;
    return got;
  }
}
const STEP = 128 * 1024;

/** The whole container through `units`, as a FUSE reader would ask for it, with the real metadata block patched in. */
async function readThrough(units: ContainerUnits, spec: ReturnType<typeof makeContainerSpec>): Promise<Buffer> {
  const l = spec.layout;
  const bs = l.blockSize;
  const total = l.containerBlockCount(spec.fileSize);
  const parts: Buffer[] = [];
  for (let first = 0; first < total; first += STEP / bs) parts.push(Buffer.from(await units.blocks(first, Math.min(STEP / bs, total - first))));
  const all = Buffer.concat(parts);
  for (const i of l.metadataIndices()) (spec.metadataBlock as Buffer).copy(all, i * bs);
  return all;
}

describe('ContainerUnits (how /sbx/image.sbx is rendered)', () => {
  it('renders a super set bigger than a unit may be in slices, within the budget shared by concurrent readers, byte for byte', async () => {
    // v17 20/10/100: a super set is 3000 blocks (1.5 MB); with 256 KiB per unit a slice is 17 blocks, whose
    // 17 block sets (data and parity: 30 × 496 bytes each) are about all a unit may hold.
    const image = pseudoRandom(300_000, 5);
    const spec = makeContainerSpec({ version: 17, d: 20, p: 10, burst: 100, uid: UID, fileSize: image.length, metadata: { fnm: 'disk.img' } });
    const renderer = rendererFor(spec);
    const unitMemory = 256 << 10;
    const g = unitGeometry(renderer, unitMemory);
    expect(g.setsPerUnit).to.equal(0); // slices, not whole super sets
    expect(g.unitBlocks * (spec.layout.blockSize + 30 * 496)).to.be.at.most(unitMemory);

    const budget = new RenderBudget(512 << 10, 384 << 10);
    const expected = await readContainer(spec, 0, Number.MAX_SAFE_INTEGER, new BufferReader(image));
    const readers = [0, 1, 2].map(() => new ContainerUnits(renderer, new BufferReader(image), budget, unitMemory));
    const copies = await Promise.all(readers.map((u) => readThrough(u, spec)));
    for (const c of copies) expect(c.equals(expected)).to.equal(true);

    const s = budget.stats();
    // Three readers keeping and preparing units ahead would hold well over a MiB; the budget kept them to it.
    expect(s.inFlightPeak).to.be.greaterThan(0).and.at.most(512 << 10);
    expect(s.keptPeak).to.be.greaterThan(0).and.at.most(384 << 10);
    expect(s.inFlight).to.equal(0);

    // Alone (nothing dropped before it is read): a data block's slice reads its own shard, not its set's 20, and a
    // parity block its whole set: about (1 + P) = 11 times the image, where whole sets for every block would be 30.
    const src = new CountingReader(image);
    const alone = await readThrough(new ContainerUnits(renderer, src, new RenderBudget(64 << 20, 64 << 20), unitMemory), spec);
    expect(alone.equals(expected)).to.equal(true);
    expect(src.bytesRead).to.be.at.most(12 * image.length);
  });

  it('gives a closed reader\'s units back, those still being prepared too, so they stop pushing out open readers\' units', async () => {
    // The defaults (17/10/2/12): units of about 2 MiB; two reads of the first blocks render unit 0 and prepare 1 and 2.
    const image = pseudoRandom(5 << 20, 9);
    const spec = makeContainerSpec({ version: 17, d: 10, p: 2, burst: 12, uid: UID, fileSize: image.length, metadata: { fnm: 'disk.img' } });
    const expected = await readContainer(spec, 0, Number.MAX_SAFE_INTEGER, new BufferReader(image));
    const budget = new RenderBudget(64 << 20, 64 << 20);
    const settled = async () => {
      while (budget.stats().inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    };
    const units = new ContainerUnits(rendererFor(spec), new BufferReader(image), budget);
    const bs = spec.layout.blockSize;
    const first = Buffer.from(await units.blocks(40, 16)); // past the metadata copies (placeholders here)
    expect(first.equals(expected.subarray(40 * bs, 56 * bs))).to.equal(true);
    await units.blocks(56, 16); // goes on: units ahead are prepared
    units.close(); // units 1 and 2 may still be rendering
    await settled();
    expect(budget.stats().kept).to.equal(0);
    // A read after close (none is expected) still gets the right bytes, and keeps nothing.
    const late = Buffer.from(await units.blocks(5000, 16));
    expect(late.equals(expected.subarray(5000 * bs, 5016 * bs))).to.equal(true);
    await settled();
    expect(budget.stats().kept).to.equal(0);
    expect(budget.stats().keptPeak).to.be.greaterThan(0);
  });

  it('prepares units ahead only for a reader that goes on: a one-off read of the header renders one unit', async () => {
    const image = pseudoRandom(8 << 20, 4);
    const spec = makeContainerSpec({ version: 17, d: 10, p: 2, burst: 12, uid: UID, fileSize: image.length, metadata: { fnm: 'disk.img' } });
    const budget = new RenderBudget(64 << 20, 64 << 20);
    const settled = async () => {
      while (budget.stats().inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    };
    const src = new CountingReader(image);
    const units = new ContainerUnits(rendererFor(spec), src, budget);
    const unitSource = (units.geometry.setsPerUnit / 12) * 120 * spec.layout.dataSize; // image bytes behind one unit
    await units.blocks(0, 8);
    await settled();
    expect(src.bytesRead).to.be.greaterThan(0).and.at.most(unitSource);
    await units.blocks(8, 8); // a second read where the first ended: a copy (cp) has started
    await settled();
    expect(src.bytesRead).to.be.greaterThan(2 * unitSource);
    units.close();
  });

  it('renders a small super set whole, several per unit (the default parameters)', () => {
    const spec = makeContainerSpec({ version: 17, d: 10, p: 2, burst: 12, uid: UID, fileSize: 10 << 20, metadata: { fnm: 'disk.img' } });
    const g = unitGeometry(rendererFor(spec));
    expect(g.setsPerUnit % 12).to.equal(0);
    expect(g.unitBlocks).to.equal((g.setsPerUnit / 12) * 144);
    expect(g.lead).to.equal(3);
  });
});

describe('RenderBudget', () => {
  it('lets renders wait for room in order and drops the least recently used kept unit first', async () => {
    const b = new RenderBudget(100, 100);
    const order: string[] = [];
    let release!: () => void;
    const first = b.rendering(80, () => new Promise<void>((r) => (release = r)).then(() => order.push('a')));
    const second = b.rendering(50, async () => order.push('b'));
    const third = b.rendering(10, async () => order.push('c')); // fits now, but waits behind b
    await new Promise((r) => setImmediate(r));
    expect(order).to.deep.equal([]);
    release();
    await Promise.all([first, second, third]);
    expect(order).to.deep.equal(['a', 'b', 'c']);
    expect(b.stats().inFlightPeak).to.be.at.most(100);

    const dropped: string[] = [];
    const [x, y, z] = [{}, {}, {}];
    b.keep(x, 40, () => dropped.push('x'));
    b.keep(y, 40, () => dropped.push('y'));
    b.touch(x);
    b.keep(z, 40, () => dropped.push('z'));
    expect(dropped).to.deep.equal(['y']);
    expect(b.stats().kept).to.equal(80);
  });
});
