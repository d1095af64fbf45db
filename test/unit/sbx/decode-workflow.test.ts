import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { expect } from 'chai';
import { decodeContainer } from '../../../src/sbx/decode';
import { DecodedDataHasher } from '../../../src/sbx/decoded-data-hash';
import { createHasher } from '../../../src/sbx/format/multihash';
import { VECTORS_DIR } from './vectors';
import { encodeBuffer, seededBytes, sha256, tempDir } from './workflow-helpers';
import { SbxVersion } from '../../../src/sbx/format/specs';

function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

const containers = fs.readdirSync(VECTORS_DIR).filter((f) => /\.(sbx|ecsbx)$/.test(f) && !f.includes('damaged'));

describe('sbx decode workflow', () => {
  it('a hash of the output that runs long is reported (a recorded size far beyond the container hashed a sparse TiB in silence); a short one is not', async () => {
    const dir = tempDir('hashprog');
    try {
      const input = path.join(VECTORS_DIR, 'v1-100k.sbx');
      const quiet: number[][] = [];
      await decodeContainer({ input, output: path.join(dir, 'a.bin'), onHashProgress: (d, t) => quiet.push([d, t]) });
      expect(quiet).to.deep.equal([]);
      const told: number[][] = [];
      const s = await decodeContainer({ input, output: path.join(dir, 'b.bin'), hashQuietMs: 0, onHashProgress: (d, t) => told.push([d, t]) });
      expect(told).to.deep.equal([[100000, 100000]]);
      expect(s.hashMatches).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  let dir: string;
  before(() => (dir = tempDir('decode')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('reference vectors', () => {
    for (const f of containers) {
      const noMeta = f.includes('nometa');
      const expected = noMeta ? 'v1-nometa.decoded-by-blkar' : f.replace(/\.(sbx|ecsbx)$/, '.bin');
      it(`${f} decodes to ${expected} (file and stdout modes)`, async () => {
        const want = fs.readFileSync(path.join(VECTORS_DIR, expected));
        const out = path.join(dir, `${f}.out`);
        const s = await decodeContainer({ input: path.join(VECTORS_DIR, f), output: out, noMeta });
        expect(sha256(fs.readFileSync(out))).to.equal(sha256(want));
        expect(s.hashMatches).to.equal(noMeta ? null : true);
        const o = sink();
        const s2 = await decodeContainer({ input: path.join(VECTORS_DIR, f), output: '-', stdout: o.stream, noMeta });
        expect(sha256(o.bytes())).to.equal(sha256(want));
        expect(s2.hashMatches).to.equal(noMeta ? null : true);
      });
    }

    it('reports blkar\'s counts for ec17-default-1000 (vectors/json/decode.json)', async () => {
      const s = await decodeContainer({ input: path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'), output: path.join(dir, 'x'), force: true });
      expect([s.blocksProcessed, s.metaBlocksDecoded, s.dataBlocksDecoded, s.parityBlocksDecoded, s.blocksFailed]).to.deep.equal([136, 3, 10, 2, 121]);
      expect([s.burst, s.fileSize, s.containerSize, s.uid]).to.deep.equal([12, 1000, 69632, '0C0000000001']);
    });
  });

  describe('round trips', () => {
    const cases: { version: SbxVersion; d?: number; p?: number; burst?: number }[] = [
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 17, d: 10, p: 2, burst: 12 },
      { version: 17, d: 1, p: 1, burst: 0 },
      { version: 18, d: 4, p: 2, burst: 3 },
      { version: 18, d: 3, p: 5, burst: 1 },
      { version: 19, d: 3, p: 1, burst: 0 },
      { version: 19, d: 2, p: 2, burst: 7 },
    ];
    for (const c of cases) {
      const ds = { 1: 496, 2: 112, 3: 4080, 17: 496, 18: 112, 19: 4080 }[c.version];
      const set = ds * (c.d ?? 1);
      const superSet = set * Math.max(1, c.burst ?? 1);
      const sizes = [...new Set([0, 1, ds, set, superSet - 1, superSet, superSet + 1, 3 * superSet + 17])];
      it(`version ${c.version} D=${c.d ?? '-'} P=${c.p ?? '-'} B=${c.burst ?? '-'}: sizes ${sizes.join(', ')}`, async () => {
        for (const size of sizes) {
          const data = seededBytes(size, size + c.version);
          const { container } = await encodeBuffer(dir, `rt-${c.version}-${c.d}-${c.burst}-${size}`, data, { ...c });
          const out = path.join(dir, `rt-${c.version}-${c.d}-${c.burst}-${size}.out`);
          const s = await decodeContainer({ input: container, output: out });
          expect(fs.readFileSync(out).equals(data), `size ${size}`).to.equal(true);
          expect(s.hashMatches).to.equal(true);
          const o = sink();
          await decodeContainer({ input: container, output: '-', stdout: o.stream });
          expect(o.bytes().equals(data), `stdout size ${size}`).to.equal(true);
        }
      });
    }

    it('a few MiB at the defaults, in both modes', async () => {
      const data = seededBytes(3 * 1024 * 1024 + 123, 77);
      const { container } = await encodeBuffer(dir, 'big', data, {});
      const out = path.join(dir, 'big.out');
      await decodeContainer({ input: container, output: out });
      expect(sha256(fs.readFileSync(out))).to.equal(sha256(data));
      const o = sink();
      await decodeContainer({ input: container, output: '-', stdout: o.stream });
      expect(sha256(o.bytes())).to.equal(sha256(data));
    });
  });

  describe('output rules', () => {
    it('uses the stored file name inside a directory, refuses to overwrite without force', async () => {
      const sub = path.join(dir, 'outdir');
      fs.mkdirSync(sub);
      await decodeContainer({ input: path.join(VECTORS_DIR, 'v1-small.sbx'), output: sub });
      expect(fs.readFileSync(path.join(sub, 'v1-small.bin')).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.bin')))).to.equal(true);
      let err: Error | null = null;
      await decodeContainer({ input: path.join(VECTORS_DIR, 'v1-small.sbx'), output: sub }).catch((e) => (err = e));
      expect(err).to.be.instanceOf(Error);
      expect((err as unknown as Error).message).to.match(/already exists/);
    });

    it('last valid copy of a seq wins and order does not matter (file mode)', async () => {
      const v = fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx'));
      // meta, block 3, block 1, block 2, then a duplicate of block 1
      const shuffled = Buffer.concat([v.subarray(0, 512), v.subarray(1536, 2048), v.subarray(512, 1024), v.subarray(1024, 1536), v.subarray(512, 1024)]);
      const f = path.join(dir, 'shuffled.sbx');
      fs.writeFileSync(f, shuffled);
      const out = path.join(dir, 'shuffled.out');
      const s = await decodeContainer({ input: f, output: out });
      expect(fs.readFileSync(out).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.bin')))).to.equal(true);
      expect(s.dataBlocksDecoded).to.equal(4);
    });

    it('to a character device (/dev/null): the hash of what was decoded, as the same output in a file gives (it read back nothing: "does NOT match")', async () => {
      for (const name of ['v1-100k.sbx', 'ec17-default-200k.ecsbx', 'ec17-default-200k.damaged.ecsbx']) {
        const input = path.join(VECTORS_DIR, name);
        const file = await decodeContainer({ input, output: path.join(dir, `${name}.beside-dev-null`) });
        const dev = await decodeContainer({ input, output: '/dev/null', force: true });
        expect([dev.hashMatches, dev.outputHash, dev.fileSize], name).to.deep.equal([!name.includes('damaged'), file.outputHash, file.fileSize]);
      }
    });

    it('to a character device, blocks out of order: the same hash; a block after its place was hashed: no hash rather than a wrong one', async () => {
      const v = fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx'));
      const [meta, b1, b2, b3] = [0, 1, 2, 3].map((i) => v.subarray(512 * i, 512 * (i + 1)));
      fs.writeFileSync(path.join(dir, 'order.sbx'), Buffer.concat([meta, b3, b1, b2]));
      expect((await decodeContainer({ input: path.join(dir, 'order.sbx'), output: '/dev/null', force: true })).hashMatches).to.equal(true);
      fs.writeFileSync(path.join(dir, 'again.sbx'), Buffer.concat([meta, b1, b2, b3, b1]));
      const s = await decodeContainer({ input: path.join(dir, 'again.sbx'), output: '/dev/null', force: true });
      expect([s.hashMatches, s.outputHash]).to.deep.equal([null, null]);
      expect(s.warnings.join('\n')).to.match(/^A data block came after its place in "\/dev\/null" was hashed .*not known/);
      // Held chunks past the bound: the gaps before them are zeros, and the last chunk is cut at the recorded size.
      const h = new DecodedDataHasher(createHasher('sha256'), 4, 14, 4);
      h.add(1, Buffer.from('bbbb'));
      h.add(3, Buffer.from('dddd'));
      expect(h.finish(14)).to.equal(true);
      expect(h.hasher.digest().toString('hex')).to.equal(sha256(Buffer.from('\0\0\0\0bbbb\0\0\0\0dd', 'latin1')));
    });

    it('stdout mode fills a missing block with zeros and keeps FSZ', async () => {
      const v = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')));
      v.fill(0, 512, 1024); // data block 1 gone
      const f = path.join(dir, 'hole.sbx');
      fs.writeFileSync(f, v);
      const o = sink();
      const s = await decodeContainer({ input: f, output: '-', stdout: o.stream });
      const want = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.bin')));
      want.fill(0, 0, 496);
      expect(o.bytes().equals(want)).to.equal(true);
      expect(s.hashMatches).to.equal(false);
    });

    it('stdout mode, EC: a metadata position counts as decoded when it holds any valid block of the container (blkar checks version and UID only there)', async () => {
      // --burst 0 on a B = 12 container: metadata positions 0, 1, 2 hold the metadata block, seq 1, and a hole.
      const o = sink();
      const s = await decodeContainer({ input: path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'), output: '-', stdout: o.stream, burst: 0 });
      expect([s.metaBlocksDecoded, s.blocksFailedByKind?.metadata]).to.deep.equal([2, 1]);
    });

    it('stdout mode, version 1 with its metadata block damaged: the data blocks from their places, padding kept (blkar), not zeros', async () => {
      const v = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')));
      v[100] ^= 0xff; // the metadata block fails its CRC: the reference is the first data block, there is no FSZ
      const f = path.join(dir, 'nometa-block.sbx');
      fs.writeFileSync(f, v);
      const o = sink();
      const s = await decodeContainer({ input: f, output: '-', stdout: o.stream });
      // blkar counts positions as if the metadata block were there (meta_enabled = true): index 0 is metadata.
      expect(o.bytes().equals(Buffer.concat([v.subarray(512 + 16, 1024), v.subarray(1024 + 16, 1536), v.subarray(1536 + 16)]))).to.equal(true);
      expect([s.blocksProcessed, s.dataBlocksDecoded, s.blocksFailedByKind]).to.deep.equal([4, 3, { metadata: 1, data: 0, parity: 0 }]);
    });

    it('--multi-pass fills an earlier output from a second damaged copy; --multi-pass-no-skip rewrites every chunk', async () => {
      const v = fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.sbx'));
      const want = fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.bin'));
      const copyA = Buffer.from(v).fill(0, 512 * 5, 512 * 40); // chunks 4..38 lost
      const copyB = Buffer.from(v).fill(0, 512 * 100, 512 * 150); // chunks 99..148 lost
      fs.writeFileSync(path.join(dir, 'a.sbx'), copyA);
      fs.writeFileSync(path.join(dir, 'b.sbx'), copyB);
      const out = path.join(dir, 'multi.out');
      const first = await decodeContainer({ input: path.join(dir, 'a.sbx'), output: out });
      expect(first.hashMatches).to.equal(false);
      let err: Error | null = null;
      await decodeContainer({ input: path.join(dir, 'b.sbx'), output: out }).catch((e) => (err = e));
      expect((err as unknown as Error).message).to.match(/already exists/);
      const second = await decodeContainer({ input: path.join(dir, 'b.sbx'), output: out, multiPass: 'skip-good' });
      expect([second.hashMatches, fs.readFileSync(out).equals(want)]).to.deep.equal([true, true]);
      // A chunk that is already there (even a wrong one) is kept by skip-good and rewritten by overwrite-all.
      const fd = fs.openSync(out, 'r+');
      fs.writeSync(fd, Buffer.from([want[0] ^ 0xff]), 0, 1, 0);
      fs.closeSync(fd);
      expect((await decodeContainer({ input: path.join(dir, 'b.sbx'), output: out, multiPass: 'skip-good' })).hashMatches).to.equal(false);
      expect((await decodeContainer({ input: path.join(dir, 'b.sbx'), output: out, multiPass: 'overwrite-all' })).hashMatches).to.equal(true);
    });

    it('stdout mode with --from: reference block and burst guess still come from the start of the file (blkar)', async () => {
      // blkar searches the reference block from --from mod 128 and guesses B from the start, not from --from.
      const o = sink();
      const s = await decodeContainer({ input: path.join(VECTORS_DIR, 'v1-100k.sbx'), output: '-', stdout: o.stream, range: { from: 512 * 11 + 7 } });
      expect(s.ref).to.deep.equal({ type: 'metadata', version: 1, pos: 0 });
      expect(o.bytes().equals(fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.bin')).subarray(10 * 496))).to.equal(true);
      const e = await decodeContainer({ input: path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'), output: '-', stdout: sink().stream, range: { from: 512 * 40 } });
      expect([e.ref.pos, e.burst]).to.deep.equal([0, 12]);
    });
  });
});
