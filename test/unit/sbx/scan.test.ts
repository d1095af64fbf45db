import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeFile } from '../../../src/sbx/encode';
import { buildBlock } from '../../../src/sbx/format/header';
import { Layout } from '../../../src/sbx/format/layout';
import { BufferReader } from '../../../src/sbx/reader';
import { findReferenceBlock, guessStartingBlockIndex, scanBlocks } from '../../../src/sbx/format/scan';
import { guessBurstLevel } from '../../../src/sbx/format/burst-guess';
import { SbxVersion } from '../../../src/sbx/format/specs';
import { readVector } from './vectors';

/** Deterministic noise that contains no SBX signature. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = (x >> 16) & 0xff;
    if (b[i] === 0x53) b[i] = 0x54;
  }
  return b;
}

describe('sbx/scan', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-scan-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('guesses the burst level of containers encoded with B = 0, 1, 2, 3, 5, 12, 40', async () => {
    const src = path.join(dir, 'in.bin');
    fs.writeFileSync(src, noise(60000, 1));
    for (const [version, d, p] of [
      [18, 3, 2],
      [17, 10, 2],
      [18, 1, 1],
    ] as [SbxVersion, number, number][]) {
      for (const burst of [0, 1, 2, 3, 5, 12, 40]) {
        const out = path.join(dir, 'c.ecsbx');
        const st = await encodeFile(src, out, { version, d, p, burst });
        const reader = new BufferReader(fs.readFileSync(out));
        expect(await guessBurstLevel(reader, { version, uid: st.uid, d, p }), `v${version} ${d}/${p}/${burst}`).to.equal(burst);
      }
    }
  });

  it("guesses B = 12 for blkar's own default containers, and nothing for an empty one (all levels tie)", async () => {
    const ref = { version: 17 as const, uid: Buffer.from('0C0000000002', 'hex'), d: 10, p: 2 };
    expect(await guessBurstLevel(new BufferReader(readVector('ec17-default-200k.ecsbx')), ref)).to.equal(12);
    expect(await guessBurstLevel(new BufferReader(readVector('ec17-default-200k.damaged.ecsbx')), ref)).to.equal(12);
    expect(await guessBurstLevel(new BufferReader(Buffer.alloc(4096)), ref)).to.equal(null);
  });

  it('finds the first metadata block at a 128-byte multiple inside noise, else the first data block', async () => {
    const c = readVector('e18.ecsbx'); // v18: 128-byte blocks
    const img = Buffer.concat([noise(128 * 7, 2), c, noise(1000, 3)]);
    const ref = await findReferenceBlock(new BufferReader(img));
    expect(ref?.pos).to.equal(128 * 7);
    expect(ref?.meta?.fnm).to.equal('e18.bin');
    const dataOnly = Buffer.concat([noise(256, 4), readVector('v1-nometa.sbx')]);
    const r2 = await findReferenceBlock(new BufferReader(dataOnly));
    expect([r2?.pos, r2?.header.seq, r2?.meta]).to.deep.equal([256, 1, null]);
    expect(await findReferenceBlock(new BufferReader(dataOnly), 'must-be-meta')).to.equal(null);
    expect(await findReferenceBlock(new BufferReader(noise(5000, 5)))).to.equal(null);
  });

  it("'any' takes the first valid block of either kind", async () => {
    const uid = Buffer.alloc(6, 1);
    const img = Buffer.concat([buildBlock(1, uid, 4, Buffer.alloc(0)), buildBlock(1, uid, 0, Buffer.alloc(0))]);
    expect((await findReferenceBlock(new BufferReader(img), 'any'))?.header.seq).to.equal(4);
    expect((await findReferenceBlock(new BufferReader(img)))?.header.seq).to.equal(0);
  });

  it('skips the whole claimed block size after a CRC failure (blkar quirk)', async () => {
    const uid = Buffer.alloc(6, 2);
    const bad = buildBlock(3, uid, 1, Buffer.alloc(0)); // claims 4096 bytes
    bad[100] ^= 1;
    const good = buildBlock(2, uid, 0, Buffer.alloc(0));
    const img = Buffer.concat([bad.subarray(0, 128), good, Buffer.alloc(4096), good]);
    const found = [];
    for await (const b of scanBlocks(new BufferReader(img), 0, img.length)) found.push(b.pos);
    // The good block at 128 lies inside the 4096 bytes skipped after the bad v3 header; the copy after the zeros is found.
    expect(found).to.deep.equal([128 + 128 + 4096]);
  });

  it('finds every block of two containers concatenated at odd 128-byte offsets', async () => {
    const a = readVector('ec17-default-1000.ecsbx');
    const b = readVector('v3-small.sbx');
    const img = Buffer.concat([noise(384, 6), a, noise(640, 7), b]);
    const uids = new Map<string, number>();
    for await (const blk of scanBlocks(new BufferReader(img), 0, img.length)) {
      const k = blk.header.uid.toString('hex');
      uids.set(k, (uids.get(k) ?? 0) + 1);
    }
    expect(Object.fromEntries(uids)).to.deep.equal({ '0c0000000001': 15, '0a0000000008': 3 });
  });

  it('guesses the starting block index of a container cut at a block boundary', async () => {
    const c = readVector('ec17-default-200k.ecsbx');
    const layout = new Layout({ version: 17, d: 10, p: 2, burst: 12 });
    const cut = c.subarray(100 * 512);
    expect(await guessStartingBlockIndex(new BufferReader(cut), { version: 17, uid: Buffer.from('0C0000000002', 'hex') }, layout)).to.equal(100);
  });
});
