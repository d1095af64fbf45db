import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Database from 'better-sqlite3';
import { encodeFile } from '../../../src/sbx/encode';
import { hashBytes } from '../../../src/sbx/format/multihash';
import { parseMetadataPayload } from '../../../src/sbx/format/metadata';
import { renderMapfile } from '../../../src/cache/mapfile';
import { loadOrCreateIdentity, ImageIdentity } from '../../../src/views/sbx/image-identity';
import { parseImageParams, SbxImageParams } from '../../../src/views/sbx/image-params';
import { ImageSealStore } from '../../../src/views/sbx/image-seal-store';
import { ImageSealer } from '../../../src/views/sbx/image-sealer';
import { SbxImageView } from '../../../src/views/sbx/image-sbx-view';
import { SbxImageMapView } from '../../../src/views/sbx/image-map-view';
import { renderBudget } from '../../../src/views/sbx/render-budget';
import { ViewErrno } from '../../../src/views/view';
import { pseudoRandom } from './containers';
import { closeMemoryCaches, memoryCache, MemoryCache } from '../../helpers/memory-cache';
import { seededInts } from '../../helpers/seeded-random';

const UID = Buffer.from('0123456789ab', 'hex');

function mount(mem: MemoryCache, db: Database.Database, params: SbxImageParams = parseImageParams()) {
  const identity = loadOrCreateIdentity(db, () => ({ fnm: 'disk.img', now: 1700000000, uid: UID }));
  const logs: string[] = [];
  const sealer = new ImageSealer(mem.cache, mem.acquisitions, new ImageSealStore(db), params.hash, (m) => logs.push(m));
  return { identity, logs, sealer, view: new SbxImageView(mem.cache, sealer, params, identity), map: new SbxImageMapView(mem.cache, sealer, identity) };
}

async function readAll(view: SbxImageView, handle: unknown, step = 128 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let pos = 0; pos < view.size; pos += step) {
    const got = await view.read(handle, pos, step);
    if (got instanceof ViewErrno) throw new Error(got.errno);
    parts.push(got);
  }
  return Buffer.concat(parts);
}

/** What `blkfs sbx encode` writes for the image (bad sectors as zeros) with the view's parameters and identity. */
async function encodeImage(image: Buffer, params: SbxImageParams, id: ImageIdentity): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-views-'));
  try {
    fs.writeFileSync(path.join(dir, 'in.img'), image);
    const out = path.join(dir, 'out.sbx');
    const ec = params.version >= 17;
    await encodeFile(path.join(dir, 'in.img'), out, {
      version: params.version,
      d: ec ? params.dataShards : undefined,
      p: ec ? params.parityShards : undefined,
      burst: ec ? params.burst : undefined,
      hash: params.hash,
      uid: id.uid,
      fnm: id.fnm,
      snm: id.snm,
      fdt: id.fdt,
      sdt: id.sdt,
    });
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('SbxImageView (/sbx/image.sbx)', () => {
  const BAD = [50, 51, 300];

  afterEach(closeMemoryCaches);

  function medium(size = 300 * 1024 + 7 * 512) {
    return memoryCache(pseudoRandom(size, 21), { badSectors: BAD });
  }

  for (const params of [parseImageParams(), parseImageParams({ sbxVersion: 1 }), parseImageParams({ sbxVersion: 18, rsData: 3, rsParity: 1, burst: 0 }),
    // A 25.6 MB super set: rendered in slices, not whole.
    parseImageParams({ sbxVersion: 17, rsData: 200, rsParity: 50, burst: 200 })]) {
    it(`equals \`sbx encode\` of the image with zeros at bad sectors (v${params.version} ${params.dataShards}/${params.parityShards}/${params.burst})`, async () => {
      const cache = await medium();
      const { view, identity } = mount(cache, new Database(':memory:'), params);
      const h = await view.open();
      const bytes = await readAll(view, h);
      expect(bytes.length).to.equal(view.getattr().size);
      const expected = await encodeImage(cache.imageWithZeros(), params, identity);
      expect(bytes.length).to.equal(expected.length);
      expect(bytes.equals(expected)).to.equal(true);
      // The first read (the metadata block) acquired the medium, each sector once.
      expect(cache.acquisitionsStarted()).to.equal(1);
      expect(cache.source.maxReadsOfGoodSector()).to.equal(1);
    });
  }

  it('fills the kernel buffer (readInto) with the same bytes as `sbx encode`, at unaligned offsets, for a large super set', async () => {
    const params = parseImageParams({ sbxVersion: 17, rsData: 200, rsParity: 50, burst: 200 });
    const cache = await medium();
    const { view, identity } = mount(cache, new Database(':memory:'), params);
    const h = await view.open();
    const got = Buffer.alloc(view.size);
    const step = 100_003; // straddles blocks, units and metadata copies
    for (let pos = 0; pos < view.size; pos += step) {
      const target = Buffer.alloc(step);
      const n = await view.readInto(h, pos, target, step);
      if (n instanceof ViewErrno) throw new Error(n.errno);
      expect(n).to.equal(Math.min(step, view.size - pos));
      target.copy(got, pos, 0, n);
    }
    // After the reads: the image with zeros at the bad sectors, as the first read of a metadata copy acquired it.
    const expected = await encodeImage(cache.imageWithZeros(), params, identity);
    expect(got.equals(expected)).to.equal(true);
  });

  // Random offsets and lengths, first into a medium not read yet (each read pins what it finds), then through readInto
  // on a complete state: every version's block size, a burst level that is not the default, other hash types.
  for (const params of [parseImageParams({ sbxVersion: 2 }), parseImageParams({ sbxVersion: 3, hash: 'blake2b-512' }),
    parseImageParams({ sbxVersion: 19, rsData: 2, rsParity: 3, burst: 5, hash: 'sha1' })]) {
    it(`random-offset reads equal \`sbx encode\` of the image (v${params.version} ${params.dataShards}/${params.parityShards}/${params.burst} ${params.hash})`, async () => {
      const cache = await medium(160 * 1024 + 300);
      const { view, identity } = mount(cache, new Database(':memory:'), params);
      const image = Buffer.from(cache.image);
      for (const s of BAD) image.fill(0, s * 512, (s + 1) * 512);
      const expected = await encodeImage(image, params, identity);
      expect(view.size).to.equal(expected.length);
      const next = seededInts(7);
      const h = await view.open();
      for (let i = 0; i < 30; i++) {
        const off = next(view.size + 100);
        const got = (await view.read(h, off, 1 + next(9000))) as Buffer;
        expect(got.equals(expected.subarray(off, off + got.length)) && (got.length > 0 || off >= view.size), `read at ${off}`).to.equal(true);
      }
      const complete = await view.open();
      for (let i = 0; i < 30; i++) {
        const off = next(view.size + 100);
        const target = Buffer.alloc(1 + next(9000));
        const n = (await view.readInto(complete, off, target, target.length)) as number;
        expect(target.subarray(0, n).equals(expected.subarray(off, off + target.length)), `readInto at ${off}`).to.equal(true);
      }
    });
  }

  it('a released file\'s rendered units leave the process\'s render budget', async () => {
    const cache = await medium(3 << 20);
    const { view } = mount(cache, new Database(':memory:'));
    await readAll(view, await view.open()); // the medium complete and hashed: later opens render units
    const base = renderBudget.stats().kept;
    const h = await view.open();
    const target = Buffer.alloc(65536);
    expect(await view.readInto(h, 1 << 20, target, target.length)).to.equal(target.length);
    while (renderBudget.stats().inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    expect(renderBudget.stats().kept).to.be.greaterThan(base);
    await view.release(h);
    expect(renderBudget.stats().kept).to.equal(base);
  });

  it('serves data blocks by random access without acquiring the medium', async () => {
    const cache = await medium(2 << 20);
    const { view } = mount(cache, new Database(':memory:'));
    const h = await view.open();
    const offset = 700 * 1024;
    const got = (await view.read(h, offset, 4096)) as Buffer;
    expect(cache.acquisitionsStarted()).to.equal(0);
    const touched = cache.deviceReadsPerSector().reduce((n, r) => n + r, 0);
    // Only the block sets of those 8 blocks: at most one super block set of source (12 sets × 4960 bytes).
    expect(touched).to.be.greaterThan(0).and.at.most(Math.ceil((12 * 4960) / 512) + 2);
    // Same bytes as the same range of the complete container.
    const all = await readAll(view, await view.open());
    expect(got.equals(all.subarray(offset, offset + 4096))).to.equal(true);
  });

  it('pins the medium state per open file; a later state gets its own hash, both are kept', async () => {
    const cache = await medium();
    const db = new Database(':memory:');
    const { view, identity } = mount(cache, db);
    const first = await view.open();
    const before = await readAll(view, first);
    // A retry recovers sector 50 while `first` is still open.
    await cache.seed(50, 1);
    const again = await readAll(view, first);
    expect(again.equals(before)).to.equal(true);
    const second = await view.open();
    const after = await readAll(view, second);
    expect(after.equals(before)).to.equal(false);
    expect(after.equals(await encodeImage(cache.imageWithZeros(), parseImageParams(), identity))).to.equal(true);
    const hsh = parseMetadataPayload(after.subarray(16, 512)).hsh;
    expect(hsh?.digest.equals(hashBytes('sha256', cache.imageWithZeros()))).to.equal(true);
  });

  it('is byte-identical after a remount, without hashing again', async () => {
    const cache = await medium();
    const db = new Database(':memory:');
    const one = mount(cache, db);
    const a = await readAll(one.view, await one.view.open());
    expect(one.logs.some((l) => l.includes('hashing'))).to.equal(true);
    const two = mount(cache, db);
    const b = await readAll(two.view, await two.view.open());
    expect(b.equals(a)).to.equal(true);
    expect(two.logs.some((l) => l.includes('hashing'))).to.equal(false);
  });

  it('concurrent first reads of metadata share one acquisition and one hashing', async () => {
    const cache = await medium();
    const { view, logs } = mount(cache, new Database(':memory:'));
    const [h1, h2] = [await view.open(), await view.open()];
    const [a, b] = await Promise.all([view.read(h1, 0, 512), view.read(h2, 6656, 512)]);
    expect((a as Buffer).equals(b as Buffer)).to.equal(true); // metadata copies 0 and 1 + B = 13
    expect(cache.acquisitionsStarted()).to.equal(1);
    expect(logs.filter((l) => l.startsWith('sbx: hashing the')).length).to.equal(1);
  });

  it('image.map is the mapfile of the state inside the container', async () => {
    const cache = await medium();
    const { map } = mount(cache, new Database(':memory:'));
    const text = ((await map.open()) as Buffer).toString();
    expect(cache.acquisitionsStarted()).to.equal(1);
    const lines = text.split('\n').filter((l) => /^0x/.test(l));
    expect(lines.slice(1)).to.deep.equal([
      '0x00000000  0x00006400  +',
      '0x00006400  0x00000400  -',
      '0x00006800  0x0001F000  +',
      '0x00025800  0x00000200  -',
      `0x00025A00  0x${(cache.image.length - 0x25a00).toString(16).toUpperCase().padStart(8, '0')}  +`,
    ]);
    expect(text).to.equal(renderMapfile(cache.cache.extents(), 512, cache.image.length, { currentPos: 0, phase: '+', pass: 1, comments: [text.split('\n')[1].slice(2)] }));
  });
});
