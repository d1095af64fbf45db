import { expect } from 'chai';
import { buildBlock } from '../../../src/sbx/format/header';
import { ReedSolomon } from '../../../src/sbx/format/reed-solomon';
import { blockSizeOf, dataSizeOf, SbxVersion } from '../../../src/sbx/format/specs';
import { HEAP, SbxKernels } from '../../../src/sbx/format/wasm-kernels';
import { lcgBytes } from '../../helpers/seeded-random';

describe('sbx/wasm-kernels (hand-written WebAssembly SIMD; same bytes as the JavaScript code)', () => {
  const k = SbxKernels.get();

  it('load here, so the vector tests exercise them (BLKFS_NO_WASM=1 runs the JavaScript code instead)', function () {
    if (process.env.BLKFS_NO_WASM) this.skip();
    expect(k).to.not.equal(null);
  });

  it('blocks(): every version, 1..40 blocks (whole SIMD groups of 16 and the rest), equal buildBlock()', function () {
    if (!k) this.skip();
    const uid = Buffer.from('a1b2c3d4e5f6', 'hex');
    for (const v of [1, 2, 3, 17, 18, 19] as SbxVersion[]) {
      const bs = blockSizeOf(v);
      const ds = dataSizeOf(v);
      for (const count of [1, 15, 16, 17, 40]) {
        const payloads = lcgBytes(count * ds, v * 100 + count);
        const uidAt = HEAP;
        const dataAt = HEAP + 16;
        const jobsAt = dataAt + payloads.length;
        const outAt = jobsAt + count * 8;
        expect(k.reserve(outAt + count * bs - HEAP)).to.equal(true);
        const mem = k.bytes;
        mem.set(uid, uidAt);
        mem.set(payloads, dataAt);
        const jobs = new Int32Array(mem.buffer, mem.byteOffset + jobsAt, count * 2);
        for (let n = 0; n < count; n++) {
          jobs[2 * n] = 0x01020304 + n * 7919; // seq
          jobs[2 * n + 1] = dataAt + n * ds;
        }
        k.blocks(jobsAt, count, ds, v, uidAt, outAt);
        for (let n = 0; n < count; n++) {
          const want = buildBlock(v, uid, 0x01020304 + n * 7919, payloads.subarray(n * ds, (n + 1) * ds));
          const got = k.bytes.subarray(outAt + n * bs, outAt + (n + 1) * bs);
          if (!want.equals(got)) expect.fail(`version ${v}, ${count} blocks: block ${n} differs`);
        }
      }
    }
  });

  it('rs(): parity equals the scalar encoder for D/P from 1/1 to 40/20 and every SBX shard size', () => {
    for (const [d, p] of [[1, 1], [3, 2], [10, 2], [17, 5], [40, 20]]) {
      for (const ds of [112, 496, 4080]) {
        const sets = 3;
        const data = lcgBytes(sets * d * ds, d * 31 + p + ds);
        const rs = new ReedSolomon(d, p);
        const fast = new Uint8Array(sets * p * ds);
        rs.encodeSets(data, fast, ds, sets);
        for (let s = 0; s < sets; s++) {
          const shards = Array.from({ length: d }, (_, i) => data.subarray((s * d + i) * ds, (s * d + i + 1) * ds));
          const parity = Array.from({ length: p }, () => new Uint8Array(ds));
          rs.encodeParity(shards, parity);
          for (let j = 0; j < p; j++) {
            if (!Buffer.from(parity[j]).equals(Buffer.from(fast.subarray((s * p + j) * ds, (s * p + j + 1) * ds)))) {
              expect.fail(`RS(${d}, ${p}) shard size ${ds}: set ${s} parity ${j} differs`);
            }
          }
        }
      }
    }
  });
});
