import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { repairContainer } from '../../../src/sbx/repair';
import { sortContainer } from '../../../src/sbx/sort';
import { decodeContainer } from '../../../src/sbx/decode';
import { Layout } from '../../../src/sbx/format/layout';
import { buildBlock } from '../../../src/sbx/format/header';
import { encodeMetadataFields, parseMetadataFields } from '../../../src/sbx/format/metadata';
import { VECTORS_DIR } from './vectors';
import { encodeBuffer, seededBytes, seededRandom, tempDir, zeroBlocks } from './workflow-helpers';

describe('sbx repair workflow', () => {
  let dir: string;
  before(() => (dir = tempDir('repair')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('restores ec17-default-200k.damaged byte for byte, 22 data blocks, as blkar reports', async () => {
    const f = path.join(dir, 'damaged.ecsbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx'), f);
    const s = await repairContainer({ input: f });
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx')))).to.equal(true);
    expect([s.blocksProcessed, s.metaBlocksPassed, s.dataBlocksPassed, s.blocksFailed, s.dataBlocksRepaired, s.dataBlocksFailedToRepair]).to.deep.equal([495, 3, 470, 22, 22, 0]);
    expect(s.setRepairs.map((r) => r.firstSeq)).to.deep.equal([1, 13, 25, 37, 49, 61, 73, 85, 97, 109, 121, 133, 397, 469]);
    expect(s.setRepairs[1].blocks).to.deep.equal([{ seq: 16, pos: 20480 }, { seq: 17, pos: 26624 }]);
  });

  it('without a recorded size, stops after container size / block size blocks as blkar: a last set cut short is counted, never repaired or reported', async () => {
    // The damaged vector with FSZ taken out of its three metadata copies: 292 864 / 512 = 572 blocks, so 3 metadata
    // + 47 whole sets (41 real, 6 past the data: failed) + 5 blocks of a 48th set.
    const f = path.join(dir, 'no-fsz.ecsbx');
    const b = fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx'));
    for (const idx of [0, 13, 26]) {
      const payload = encodeMetadataFields(parseMetadataFields(b.subarray(idx * 512 + 16, (idx + 1) * 512)).filter((x) => x.id !== 'FSZ'), 17);
      buildBlock(17, b.subarray(6, 12), 0, payload).copy(b, idx * 512);
    }
    fs.writeFileSync(f, b);
    const s = await repairContainer({ input: f });
    expect([s.blocksProcessed, s.blocksFailed, s.dataBlocksRepaired, s.dataBlocksFailedToRepair]).to.deep.equal([572, 99, 22, 72]);
    expect(s.setRepairs.filter((r) => !r.success).map((r) => [r.firstSeq, r.lastSeq])).to.deep.equal([[493, 504], [505, 516], [517, 528], [529, 540], [541, 552], [553, 564]]);
  });

  it('--dry-run reports the same repairs and writes nothing', async () => {
    const f = path.join(dir, 'dry.ecsbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx'), f);
    const s = await repairContainer({ input: f, dryRun: true });
    expect(s.dataBlocksRepaired).to.equal(22);
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx')))).to.equal(true);
  });

  it('a wrong --burst never overwrites a valid block of the container (metadata positions as blkar; data positions too)', async () => {
    const original = fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'));
    const f = path.join(dir, 'wrong-burst.ecsbx');
    fs.writeFileSync(f, original);
    await repairContainer({ input: f, burst: 11 });
    const after = fs.readFileSync(f);
    for (let pos = 0; pos < original.length; pos += 512) {
      const block = original.subarray(pos, pos + 512);
      if (block.some((b) => b !== 0)) expect(after.subarray(pos, pos + 512).equals(block), `block at ${pos}`).to.equal(true);
    }
    const out = path.join(dir, 'wrong-burst.out');
    expect((await decodeContainer({ input: f, output: out })).hashMatches).to.equal(true);
  });

  it('versions 1-3: not applicable, file untouched', async () => {
    const f = path.join(dir, 'v1.sbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'v1-small.sbx'), f);
    const s = await repairContainer({ input: f });
    expect(s.applicable).to.equal(false);
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')))).to.equal(true);
  });

  const ecCases = [
    { version: 17 as const, d: 5, p: 2, burst: 0 },
    { version: 18 as const, d: 4, p: 2, burst: 3 },
    { version: 17 as const, d: 10, p: 3, burst: 5 },
    { version: 19 as const, d: 2, p: 1, burst: 2 },
  ];
  for (const c of ecCases) {
    it(`v${c.version} ${c.d}/${c.p}/${c.burst}: up to P lost blocks per set, P bursts of B per super set, metadata copies → restored exactly`, async () => {
      const layout = new Layout(c);
      const size = layout.dataSize * c.d * Math.max(1, c.burst) * 3 + 77;
      const { container } = await encodeBuffer(dir, `dmg-${c.version}-${c.d}-${c.burst}`, seededBytes(size, 5), c);
      const original = fs.readFileSync(container);
      const rnd = seededRandom(c.d * 31 + c.burst);
      const bs = layout.blockSize;
      if (c.burst === 0) {
        // P random blocks of every block set, plus P of the 1 + P metadata copies.
        for (let set = 0; set < layout.setCount(size); set++) {
          const cols = new Set<number>();
          while (cols.size < c.p) cols.add(Math.floor(rnd() * layout.setSize));
          for (const col of cols) zeroBlocks(container, layout.seqToIndex(set * layout.setSize + col + 1), 1, bs);
        }
      } else {
        // In every super set, P whole lanes (bursts of B consecutive blocks) at random columns.
        const superSets = Math.ceil(layout.setCount(size) / c.burst);
        for (let k = 0; k < superSets; k++) {
          const cols = new Set<number>();
          while (cols.size < c.p) cols.add(Math.floor(rnd() * layout.setSize));
          for (const col of cols) zeroBlocks(container, layout.seqToIndex(k * c.burst * layout.setSize + col + 1), c.burst, bs);
        }
      }
      for (const idx of layout.metadataIndices().slice(1)) zeroBlocks(container, idx, 1, bs);
      fs.truncateSync(container, original.length); // a burst at the very end must not have grown the file
      expect(fs.readFileSync(container).equals(original)).to.equal(false);
      const s = await repairContainer({ input: container, burst: c.burst });
      expect(s.dataBlocksFailedToRepair).to.equal(0);
      expect(s.metaBlocksRepaired).to.equal(c.p);
      expect(fs.readFileSync(container).equals(original)).to.equal(true);
    });
  }

  it('beyond P losses: the set is reported unrepairable and left untouched, the others are repaired', async () => {
    const c = { version: 17 as const, d: 4, p: 2, burst: 0 };
    const layout = new Layout(c);
    const { container } = await encodeBuffer(dir, 'toomuch', seededBytes(496 * 4 * 3, 9), c);
    const original = fs.readFileSync(container);
    const bs = layout.blockSize;
    for (const seq of [1, 2, 3]) zeroBlocks(container, layout.seqToIndex(seq), 1, bs); // set 0: 3 > P lost
    zeroBlocks(container, layout.seqToIndex(8), 1, bs); // set 1: 1 lost
    const before = fs.readFileSync(container);
    const s = await repairContainer({ input: container });
    expect(s.setRepairs.map((r) => [r.firstSeq, r.success, r.blocks.map((b) => b.seq)])).to.deep.equal([
      [1, false, [1, 2, 3]],
      [7, true, [8]],
    ]);
    expect([s.dataBlocksRepaired, s.dataBlocksFailedToRepair]).to.deep.equal([1, 3]);
    const after = fs.readFileSync(container);
    for (const seq of [1, 2, 3]) {
      const p = layout.seqToIndex(seq) * bs;
      expect(after.subarray(p, p + bs).equals(before.subarray(p, p + bs))).to.equal(true);
    }
    const p8 = layout.seqToIndex(8) * bs;
    expect(after.subarray(p8, p8 + bs).equals(original.subarray(p8, p8 + bs))).to.equal(true);
  });
});

describe('sbx sort workflow', () => {
  let dir: string;
  before(() => (dir = tempDir('sort')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of [
    { version: 1 as const },
    { version: 17 as const, d: 10, p: 2, burst: 12 },
    { version: 18 as const, d: 3, p: 2, burst: 4 },
    { version: 19 as const, d: 2, p: 1, burst: 0 },
  ]) {
    it(`a shuffled v${c.version} container sorts back to the canonical bytes`, async () => {
      const layout = new Layout(c);
      const { container, input } = await encodeBuffer(dir, `sort-${c.version}`, seededBytes(layout.dataSize * 37 + 5, 3), c);
      const original = fs.readFileSync(container);
      const bs = layout.blockSize;
      const blocks: Buffer[] = [];
      for (let off = 0; off < original.length; off += bs) {
        const b = original.subarray(off, off + bs);
        if (b.some((x) => x !== 0)) blocks.push(b); // holes are not blocks
      }
      const rnd = seededRandom(11);
      for (let i = blocks.length - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        [blocks[i], blocks[j]] = [blocks[j], blocks[i]];
      }
      const shuffled = path.join(dir, `shuffled-${c.version}`);
      fs.writeFileSync(shuffled, Buffer.concat(blocks));
      const out = path.join(dir, `sorted-${c.version}`);
      const s = await sortContainer({ input: shuffled, output: out, burst: c.burst });
      expect(fs.readFileSync(out).equals(original)).to.equal(true);
      expect(s.blocksFailed).to.equal(0);
      const dec = path.join(dir, `sorted-${c.version}.out`);
      await decodeContainer({ input: out, output: dec });
      expect(fs.readFileSync(dec).equals(fs.readFileSync(input))).to.equal(true);
    });
  }

  it('a block whose seq is past the container the recorded size implies counts as failed, not written terabytes away (was a 4 TiB sparse output, or EFBIG)', async () => {
    const dir = tempDir('sortseq');
    try {
      const c = fs.readFileSync(path.join(VECTORS_DIR, 'v3-small.sbx')); // metadata + 2 data blocks of 4096 bytes
      const forged = buildBlock(3, c.subarray(6, 12), 0x3fffffff, c.subarray(4096 + 16, 8192));
      const input = path.join(dir, 'forged.sbx');
      fs.writeFileSync(input, Buffer.concat([c.subarray(0, 4096), forged, c.subarray(8192)]));
      const out = path.join(dir, 'sorted.sbx');
      const s = await sortContainer({ input, output: out });
      expect([s.blocksFailed, s.dataSorted]).to.deep.equal([1, 1]);
      expect(fs.statSync(out).size).to.equal(3 * 4096);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--multi-pass sorts two damaged copies into one complete container; without it an existing output is refused', async () => {
    const v = fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'));
    const a = Buffer.from(v).fill(0, 512 * 40, 512 * 150); // copy A lost blocks 40..149
    const b = Buffer.from(v).fill(0, 512 * 150); // copy B lost everything from block 150
    fs.writeFileSync(path.join(dir, 'mp-a'), a);
    fs.writeFileSync(path.join(dir, 'mp-b'), b);
    const out = path.join(dir, 'mp-sorted');
    await sortContainer({ input: path.join(dir, 'mp-b'), output: out, burst: 12 });
    let err: Error | null = null;
    await sortContainer({ input: path.join(dir, 'mp-a'), output: out, burst: 12 }).catch((e) => (err = e));
    expect((err as unknown as Error).message).to.match(/already exists/);
    await sortContainer({ input: path.join(dir, 'mp-a'), output: out, burst: 12, multiPass: 'skip-good' });
    expect(fs.readFileSync(out).equals(v)).to.equal(true);
  });

  it('versions 1-3 without a usable metadata block: data seq k still goes to index k, position 0 left for the metadata (blkar)', async () => {
    const small = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')));
    small[100] ^= 0xff; // metadata block damaged: the reference is a data block
    fs.writeFileSync(path.join(dir, 'meta-damaged'), small);
    const s = await sortContainer({ input: path.join(dir, 'meta-damaged'), output: path.join(dir, 'meta-damaged.sorted') });
    expect(fs.readFileSync(path.join(dir, 'meta-damaged.sorted')).equals(Buffer.concat([Buffer.alloc(512), small.subarray(512)]))).to.equal(true);
    expect([s.dataSorted, s.dataSameOrder, s.blocksFailed]).to.deep.equal([3, 3, 1]);
    const noMeta = fs.readFileSync(path.join(VECTORS_DIR, 'v1-nometa.sbx'));
    const n = await sortContainer({ input: path.join(VECTORS_DIR, 'v1-nometa.sbx'), output: path.join(dir, 'nometa.sorted') });
    expect(fs.readFileSync(path.join(dir, 'nometa.sorted')).equals(Buffer.concat([Buffer.alloc(512), noMeta]))).to.equal(true);
    expect([n.dataSorted, n.dataSameOrder, n.dataDiffOrder]).to.deep.equal([7, 0, 7]);
  });

  it('counts blocks already in order like blkar (vectors/json/sort.json) and --dry-run writes nothing', async () => {
    const out = path.join(dir, 'never');
    const s = await sortContainer({ input: path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'), output: out, dryRun: true });
    expect([s.burst, s.blocksProcessed, s.metaSorted, s.dataSorted, s.paritySorted, s.metaSameOrder, s.dataSameOrder, s.paritySameOrder, s.blocksFailed]).to.deep.equal([12, 136, 3, 10, 2, 3, 10, 2, 0]);
    expect(fs.existsSync(out)).to.equal(false);
  });
});
