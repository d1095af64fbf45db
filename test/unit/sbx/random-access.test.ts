import { expect } from 'chai';
import { createHash } from 'crypto';
import { makeContainerSpec, standardMetadata } from '../../../src/sbx/format/container-spec';
import { isValidBlock, parseHeader } from '../../../src/sbx/format/header';
import { Layout } from '../../../src/sbx/format/layout';
import { hashBytes } from '../../../src/sbx/format/multihash';
import { blockAt, readContainer, SourceTooShortError } from '../../../src/sbx/format/random-access';
import { BufferReader, RandomReader } from '../../../src/sbx/reader';
import { ReedSolomon } from '../../../src/sbx/format/reed-solomon';
import { HEADER_SIZE, SbxVersion } from '../../../src/sbx/format/specs';
import { readVector, VECTOR_CASES, VectorCase } from './vectors';
import { seededInts } from '../../helpers/seeded-random';

/** A reader that logs every range it is asked for. */
class CountingReader implements RandomReader {
  readonly ranges: [number, number][] = [];
  constructor(private readonly inner: RandomReader) {}
  get size(): number {
    return this.inner.size;
  }
  read(offset: number, length: number): Promise<Buffer> {
    this.ranges.push([offset, offset + length]);
    return this.inner.read(offset, length);
  }
}

/** A virtual source of any size: byte at x = (x · 2654435761 >>> 13) & 0xff, computed on demand. */
class SyntheticReader implements RandomReader {
  constructor(readonly size: number) {}
  async read(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = SyntheticReader.byteAt(offset + i);
    return b;
  }
  static byteAt(x: number): number {
    return Number((BigInt(x) * 2654435761n) >> 13n) & 0xff;
  }
}

function specOf(c: VectorCase, src: Buffer) {
  const layout = new Layout({ version: c.version, d: c.d, p: c.p, burst: c.burst, metaEnabled: !c.noMeta });
  const metadata = c.noMeta
    ? null
    : standardMetadata(layout, {
        fnm: `${c.name}.bin`,
        snm: c.container,
        fsz: src.length,
        fdt: c.time as number,
        sdt: c.time as number,
        hsh: { type: c.hash, digest: hashBytes(c.hash, src) },
      });
  return makeContainerSpec({ version: c.version, d: c.d, p: c.p, burst: c.burst, metaEnabled: !c.noMeta, uid: Buffer.from(c.uid, 'hex'), fileSize: src.length, metadata });
}

describe('sbx/random-access (any block from its block set alone)', () => {
  for (const c of VECTOR_CASES) {
    it(`${c.container}: the whole container, and every block on its own, equal the reference tool's bytes`, async () => {
      const src = readVector(`${c.name}.bin`);
      const expected = readVector(c.container);
      const spec = specOf(c, src);
      const reader = new BufferReader(src);
      expect((await readContainer(spec, 0, expected.length + 1000, reader)).equals(expected)).to.equal(true);
      const bs = spec.layout.blockSize;
      for (let i = 0; i * bs < expected.length; i++) {
        expect((await blockAt(spec, i, reader)).equals(expected.subarray(i * bs, (i + 1) * bs)), `block ${i}`).to.equal(true);
      }
    });
  }

  it('unaligned ranges equal slices of the container', async () => {
    const c = VECTOR_CASES.find((v) => v.name === 'ec17-default-200k') as VectorCase;
    const src = readVector(`${c.name}.bin`);
    const expected = readVector(c.container);
    const spec = specOf(c, src);
    for (const [off, len] of [
      [0, 1],
      [1, 511],
      [511, 2],
      [1000, 70000],
      [6000, 100000],
      [expected.length - 3, 10],
      [expected.length, 10],
    ]) {
      const got = await readContainer(spec, off, len, new BufferReader(src));
      expect(got.equals(expected.subarray(off, off + len)), `${off}+${len}`).to.equal(true);
    }
  });

  it('a parity block reads only its own block set; a data block only its set; a hole or metadata copy reads nothing', async () => {
    const size = 200000;
    const spec = makeContainerSpec({
      version: 17,
      d: 10,
      p: 2,
      burst: 12,
      uid: Buffer.alloc(6, 1),
      fileSize: size,
      metadata: { fsz: size, sdt: 0, hsh: { type: 'sha256', digest: Buffer.alloc(32) }, rsd: 10, rsp: 2 },
    });
    const l = spec.layout;
    const setBytes = 10 * 496;
    for (const seq of [11, 12 * 30 + 12, 1, 12 * 20 + 5]) {
      const r = new CountingReader(new SyntheticReader(size));
      await blockAt(spec, l.seqToIndex(seq), r);
      const set = l.setOfSeq(seq);
      expect(r.ranges.length).to.equal(1);
      expect(r.ranges[0][0]).to.be.at.least(set * setBytes);
      expect(r.ranges[0][1]).to.be.at.most((set + 1) * setBytes);
    }
    const r = new CountingReader(new SyntheticReader(size));
    await blockAt(spec, 13, r); // metadata copy 1
    const lastIndex = l.containerBlockCount(size) - 1;
    let hole = lastIndex;
    while (l.kindOfIndex(hole, size) !== 'hole') hole--;
    expect((await blockAt(spec, hole, r)).every((b) => b === 0)).to.equal(true);
    expect(r.ranges.length).to.equal(0);
  });

  it('a 5 GiB source: the last blocks are computed without touching the rest, and parity is consistent', async () => {
    const size = 5 * 2 ** 30 + 12345; // past 2^32
    const version: SbxVersion = 17;
    const spec = makeContainerSpec({
      version,
      d: 10,
      p: 2,
      burst: 12,
      uid: Buffer.from('0123456789ab', 'hex'),
      fileSize: size,
      metadata: { fsz: size, sdt: 1, hsh: { type: 'sha256', digest: Buffer.alloc(32) }, rsd: 10, rsp: 2 },
    });
    const l = spec.layout;
    const reader = new CountingReader(new SyntheticReader(size));
    const lastSeq = l.lastSeq(size);
    const blocks = [];
    for (let seq = lastSeq - 11; seq <= lastSeq; seq++) {
      const b = await blockAt(spec, l.seqToIndex(seq), reader);
      expect(isValidBlock(b, { version, seq })).to.equal(true);
      blocks.push(Buffer.from(b.subarray(HEADER_SIZE)));
    }
    // The last set's data blocks carry the source bytes (0x1A past the end)...
    const lastChunk = l.chunkCount(size) - 1;
    const dataBlock = blocks[lastChunk % 10];
    const tail = size - lastChunk * 496;
    for (let i = 0; i < 496; i++) expect(dataBlock[i]).to.equal(i < tail ? SyntheticReader.byteAt(lastChunk * 496 + i) : 0x1a);
    // ...and two erased data shards come back from the parity blocks.
    const shards: (Uint8Array | null)[] = blocks.map((b) => Uint8Array.from(b));
    shards[0] = null;
    shards[5] = null;
    expect(new ReedSolomon(10, 2).reconstruct(shards)).to.equal(true);
    expect(Buffer.from(shards.at(0) as Uint8Array).equals(blocks[0])).to.equal(true);
    expect(reader.ranges.every(([a]) => a >= size - 10 * 496)).to.equal(true);
    // Container bytes at an offset above 2^32 also come out, as whole valid blocks.
    const off = 4 * 2 ** 30 + 512 * 7;
    const chunk = await readContainer(spec, off, 4096, reader);
    for (let o = 0; o < 4096; o += 512) {
      const h = parseHeader(chunk, o);
      expect(h === null ? chunk.subarray(o, o + 512).every((x) => x === 0) : isValidBlock(chunk, { seq: l.indexToSeq((off + o) / 512) }, o)).to.equal(true);
    }
  });

  it('never invents data: a reader shorter than fileSize is an error', async () => {
    const spec = makeContainerSpec({ version: 1, uid: Buffer.alloc(6), fileSize: 2000, metadata: { fsz: 2000 } });
    const short = new BufferReader(Buffer.alloc(1500));
    await readContainer(spec, 512, 1024, short); // chunks 0..1 exist
    let err: unknown = null;
    await readContainer(spec, 0, 4096, short).catch((e) => (err = e));
    expect(err).to.be.instanceOf(SourceTooShortError);
  });

  it('equals a straightforward re-implementation for random parameters and sizes', async () => {
    const rnd = seededInts(42);
    for (let round = 0; round < 20; round++) {
      const version = ([17, 18, 19] as SbxVersion[])[rnd(3)];
      const d = 1 + rnd(6);
      const p = 1 + rnd(3);
      const burst = rnd(5);
      const l = new Layout({ version, d, p, burst });
      const size = rnd(l.dataSize * d * Math.max(1, burst) * 3);
      const src = Buffer.from(Array.from({ length: size }, () => rnd(256)));
      const spec = makeContainerSpec({ version, d, p, burst, uid: Buffer.alloc(6, round), fileSize: size, metadata: { fsz: size, rsd: d, rsp: p } });
      const container = await readContainer(spec, 0, Infinity, new BufferReader(src));
      // Reference: block per seq, built naively.
      const rs = new ReedSolomon(d, p);
      const ds = l.dataSize;
      for (let set = 0; set < l.setCount(size); set++) {
        const data = Array.from({ length: d }, (_, k) => {
          const b = Buffer.alloc(ds, 0x1a);
          const from = (set * d + k) * ds;
          if (from < size) src.copy(b, 0, from, Math.min(size, from + ds));
          return b;
        });
        const parity = Array.from({ length: p }, () => Buffer.alloc(ds));
        rs.encodeParity(data, parity);
        [...data, ...parity].forEach((payload, pos) => {
          const seq = set * (d + p) + pos + 1;
          const idx = l.seqToIndex(seq);
          expect(isValidBlock(container, { version, seq }, idx * l.blockSize)).to.equal(true);
          expect(container.subarray(idx * l.blockSize + HEADER_SIZE, (idx + 1) * l.blockSize).equals(payload)).to.equal(true);
        });
      }
      expect(container.length).to.equal(l.containerSize(size));
      expect(createHash('sha256').update(container).digest('hex')).to.equal(
        createHash('sha256').update(await readContainer(spec, 0, container.length, new BufferReader(src))).digest('hex'),
      );
    }
  });
});
