import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { rescueBlocks, parseRescueLog, renderRescueLog } from '../../../src/sbx/rescue';
import { decodeContainer } from '../../../src/sbx/decode';
import { checkContainer } from '../../../src/sbx/check';
import { updateContainer, editFields } from '../../../src/sbx/update';
import { showContainer } from '../../../src/sbx/show';
import { InputError, WorkflowError } from '../../../src/sbx/workflow-errors';
import { buildBlock, computeBlockCrc } from '../../../src/sbx/format/header';
import { parseMetadataFields } from '../../../src/sbx/format/metadata';
import { VECTORS_DIR } from './vectors';
import { encodeBuffer, seededBytes, tempDir } from './workflow-helpers';

describe('sbx rescue workflow', () => {
  let dir: string;
  before(() => (dir = tempDir('rescue')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function medium() {
    const a = await encodeBuffer(dir, 'a', seededBytes(5000, 1), { version: 1, uid: Buffer.from('0000000000aa', 'hex') });
    const b = await encodeBuffer(dir, 'b', seededBytes(30000, 2), { version: 17, d: 4, p: 2, burst: 3, uid: Buffer.from('0000000000bb', 'hex') });
    const img = Buffer.concat([seededBytes(128 * 37, 3), fs.readFileSync(a.container), seededBytes(128 * 11, 4), fs.readFileSync(b.container), seededBytes(100000, 5)]);
    const file = path.join(dir, 'medium.img');
    fs.writeFileSync(file, img);
    return { a, b, file, size: img.length };
  }

  it('finds every block of two containers inside random data; decode restores both files', async () => {
    const { a, b, file, size } = await medium();
    const out = path.join(dir, 'out1');
    fs.mkdirSync(out);
    const log = path.join(dir, 'rescue1.log');
    const s = await rescueBlocks({ input: file, outDir: out, logFile: log });
    expect(fs.readdirSync(out).sort()).to.deep.equal(['0000000000AA', '0000000000BB']);
    expect(fs.readFileSync(path.join(out, '0000000000AA')).equals(fs.readFileSync(a.container))).to.equal(true);
    expect(s.bytesProcessed).to.equal(size);
    expect(fs.readFileSync(log, 'utf8')).to.equal(renderRescueLog(s));
    for (const [uid, src] of [['0000000000AA', a.input], ['0000000000BB', b.input]]) {
      const dec = path.join(dir, `${uid}.out`);
      const d = await decodeContainer({ input: path.join(out, uid), output: dec });
      expect(fs.readFileSync(dec).equals(fs.readFileSync(src))).to.equal(true);
      expect(d.hashMatches).to.equal(true);
    }
  });

  it('resumes from its log: nothing before bytes_processed is scanned again', async () => {
    const { file } = await medium();
    const out = path.join(dir, 'out2');
    fs.mkdirSync(out);
    const log = path.join(dir, 'rescue2.log');
    // Pretend a previous run got past container A (it starts at 128*37, is 11 blocks long).
    fs.writeFileSync(log, renderRescueLog({ bytesProcessed: 128 * 37 + 12 * 512 + 100, blocksProcessed: 0, metaBlocksProcessed: 0, dataBlocksProcessed: 0 }));
    const s = await rescueBlocks({ input: file, outDir: out, logFile: log });
    expect(fs.readdirSync(out)).to.deep.equal(['0000000000BB']);
    expect(s.resumedFrom).to.equal(128 * 37 + 12 * 512 + 100 - 100); // rounded down to 128
  });

  it('--only-pick-block meta and --only-pick-uid filter', async () => {
    const { file } = await medium();
    const out = path.join(dir, 'out3');
    fs.mkdirSync(out);
    const s = await rescueBlocks({ input: file, outDir: out, onlyPickBlock: 'meta', onlyPickUid: Buffer.from('0000000000bb', 'hex') });
    expect(fs.readdirSync(out)).to.deep.equal(['0000000000BB']);
    expect(fs.statSync(path.join(out, '0000000000BB')).size).to.equal(3 * 512); // its 3 metadata copies
    // blkar (rescue_core.rs) counts every valid block it scans, before the filters: A's 1 + 11 and B's 3 + 64 + 32.
    expect([s.blocksProcessed, s.metaBlocksProcessed, s.dataBlocksProcessed]).to.deep.equal([111, 4, 107]);
  });

  it('a malformed log is an error naming the line; a missing OUTDIR is a user error', async () => {
    expect(() => parseRescueLog('bytes_processed=1\nblocks_processed=x\n')).to.throw(/line 2/);
    let err: Error | null = null;
    await rescueBlocks({ input: path.join(VECTORS_DIR, 'v1-small.sbx'), outDir: path.join(dir, 'nope') }).catch((e) => (err = e));
    expect((err as unknown as Error).name).to.equal('InputError');
  });

  it('a log in a directory that does not exist, or a log path that is a directory, is refused before a block is appended', async () => {
    const { file } = await medium();
    const out = path.join(dir, 'out4');
    fs.mkdirSync(out);
    for (const [logFile, message] of [
      [path.join(dir, 'no-such-dir', 'rescue.log'), /Directory ".*no-such-dir" of the log file does not exist/],
      [out, /Log file ".*out4" is a directory/],
    ] as const) {
      let err: Error | null = null;
      await rescueBlocks({ input: file, outDir: out, logFile }).catch((e) => (err = e));
      expect((err as unknown as Error).name).to.equal('InputError');
      expect((err as unknown as Error).message).to.match(message);
      expect(fs.readdirSync(out)).to.deep.equal([]);
    }
  });
});

describe('sbx check, show and update workflows', () => {
  let dir: string;
  before(() => (dir = tempDir('check')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('check counts like blkar: blanks are fine unless reportBlank; --hash compares HSH', async () => {
    const dmg = path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx');
    const s = await checkContainer({ input: dmg });
    expect([s.blocksProcessed, s.metaBlocksPassed, s.dataBlocksPassed, s.blocksFailed]).to.deep.equal([572, 3, 470, 0]);
    const s2 = await checkContainer({ input: dmg, reportBlank: true });
    expect(s2.blocksFailed).to.equal(99);
    const h = await checkContainer({ input: path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'), hash: true });
    expect([h.burst, h.dataBlocksPassed, h.hashMatches]).to.deep.equal([12, 492, true]);
    const h2 = await checkContainer({ input: dmg, hashOnly: true });
    expect([h2.blocksProcessed, h2.hashMatches, h2.hashError, h2.storedDataHash, h2.missingChunks]).to.deep.equal([0, null, 'Failed to decode data block', null, 22]);
  });

  it('check --hash when the burst level cannot be guessed: the blocks are still checked, the failure is the hash result (blkar), not a failed run', async () => {
    const f = path.join(dir, 'only-meta.ecsbx');
    // The metadata block alone: every level places seq 0 at index 0, so all levels tie.
    fs.writeFileSync(f, fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx')).subarray(0, 512));
    const s = await checkContainer({ input: f, hash: true });
    expect([s.blocksProcessed, s.metaBlocksPassed, s.hashChecked, s.hashMatches]).to.deep.equal([1, 1, true, null]);
    expect(s.hashError).to.equal('Failed to guess burst resistance level, please specify via --burst option');
    expect(s.recordedHash).to.match(/^SHA256 - 2459e633/);
  });

  it('check reports a bit flip as one failed block', async () => {
    const f = path.join(dir, 'flip.sbx');
    const v = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.sbx')));
    v[512 * 7 + 100] ^= 0x10;
    fs.writeFileSync(f, v);
    const s = await checkContainer({ input: f, hash: true });
    expect([s.blocksFailed, s.failures[0].pos, s.hashMatches, s.hashError]).to.deep.equal([1, 512 * 7, null, 'Failed to decode data block']);
  });

  it('check --no-meta needs only the block size: an EC container whose first valid block is a data block', async () => {
    // Regression: the block pass used to build an RS layout and failed without RSD/RSP.
    const f = path.join(dir, 'ec-data-ref.ecsbx');
    const v = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'))).fill(0, 0, 512);
    fs.writeFileSync(f, v);
    const s = await checkContainer({ input: f, noMeta: true });
    expect([s.ref.type, s.metaBlocksPassed, s.dataBlocksPassed, s.blocksFailed]).to.deep.equal(['data', 2, 492, 0]);
  });

  it('show finds the first or every metadata block, and guesses the burst level', async () => {
    const one = await showContainer({ input: path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx') });
    expect(one.blocks.map((b) => b.pos)).to.deep.equal([0]);
    const all = await showContainer({ input: path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'), showAll: true, guessBurst: true });
    expect(all.blocks.map((b) => b.pos)).to.deep.equal([0, 6656, 13312]);
    expect(all.burstGuess).to.equal(12);
    expect(all.blocks[0].meta.fnm).to.equal('ec17-default-1000.bin');
  });

  it('editFields keeps positions on update, appends additions, removes after updating', () => {
    const fields = parseMetadataFields(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')).subarray(16, 512));
    const ids = (f: { id: string }[]) => f.map((x) => x.id).join(',');
    expect(ids(fields)).to.equal('FNM,SNM,FSZ,FDT,SDT,HSH');
    const a = editFields(fields, { fnm: 'new.bin', hsh: null });
    expect(ids(a.fields)).to.equal('FNM,SNM,FSZ,FDT,SDT');
    expect(a.fields[0]).to.deep.equal({ id: 'FNM', value: 'new.bin' });
    const b = editFields(a.fields, { fnm: null });
    const c = editFields(b.fields, { fnm: 'back.bin' });
    expect(ids(c.fields)).to.equal('SNM,FSZ,FDT,SDT,FNM');
  });

  it('update rewrites every metadata copy in place; --hash re-hashes the stored data', async () => {
    const f = path.join(dir, 'upd.ecsbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'), f);
    const s = await updateContainer({ input: f, fnm: 'renamed.bin', hash: 'blake2b-256' });
    expect([s.burst, s.metaBlocksProcessed, s.metaBlocksUpdated, s.metaBlocksFailedToDecode]).to.deep.equal([12, 3, 3, 0]);
    const shown = await showContainer({ input: f, showAll: true });
    expect(shown.blocks.map((b) => b.meta.fnm)).to.deep.equal(['renamed.bin', 'renamed.bin', 'renamed.bin']);
    expect(shown.blocks[0].meta.hsh?.type).to.equal('blake2b-256');
    const before = fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx'));
    const after = fs.readFileSync(f);
    // Only the three metadata blocks changed.
    for (let off = 0; off < before.length; off += 512) {
      if ([0, 6656, 13312].includes(off)) continue;
      expect(after.subarray(off, off + 512).equals(before.subarray(off, off + 512))).to.equal(true);
    }
    const out = path.join(dir, 'upd.out');
    const d = await decodeContainer({ input: f, output: path.join(dir, 'upd.out') });
    expect(d.hashMatches).to.equal(true);
    expect(fs.readFileSync(out).equals(fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.bin')))).to.equal(true);
  });

  it('update stops at the first metadata position past the end of a cut container, as blkar: it is neither processed nor failed', async () => {
    const f = path.join(dir, 'upd-cut.ecsbx');
    // 1000 bytes at 10/2/12: copies at blocks 0, 13 and 26; the file ends at block 20.
    fs.writeFileSync(f, fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx')).subarray(0, 20 * 512));
    const s = await updateContainer({ input: f, burst: 12, snm: 'cut.ecsbx' });
    expect([s.metaBlocksProcessed, s.metaBlocksUpdated, s.metaBlocksFailedToDecode]).to.deep.equal([2, 2, 0]);
    expect(fs.statSync(f).size).to.equal(20 * 512);
  });

  it('check --hash-only and update --hash of a small container whose metadata claims 1 TiB stop at its end, without hashing 1 TiB', async () => {
    const c = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')));
    const fsz = c.indexOf('FSZ', 16, 'latin1'); // metadata block 0; the CRC fixed after, as if written so
    c.writeBigUInt64BE(1n << 40n, fsz + 4);
    c.writeUInt16BE(computeBlockCrc(c, 1, 0), 4);
    const f = path.join(dir, 'claims-1tib.sbx');
    fs.writeFileSync(f, c);
    const s = await checkContainer({ input: f, hashOnly: true }); // spun for hours over positions past the end
    expect([s.hashMatches, s.hashError]).to.deep.equal([null, 'Failed to decode data block']);
    let err: Error | null = null;
    await updateContainer({ input: f, hash: 'sha1' }).catch((e: Error) => (err = e));
    expect(err!.message).to.match(/^Failed to decode data block: /);
    expect(fs.readFileSync(f).equals(c)).to.equal(true);
  });

  it('update --hash on a container with missing data blocks fails (exit 2) and keeps the recorded hash: it never records a hash of invented bytes', async () => {
    const f = path.join(dir, 'upd-damaged.ecsbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx'), f);
    let err: (Error & { exitCode?: number }) | null = null;
    await updateContainer({ input: f, hash: 'sha1' }).catch((e) => (err = e));
    expect(err).to.not.equal(null);
    expect((err as unknown as Error).message).to.match(/^Failed to decode data block/);
    expect((err as unknown as { exitCode: number }).exitCode).to.equal(2);
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.damaged.ecsbx')))).to.equal(true);
    // Renaming needs no data: it still works on the damaged container.
    expect((await updateContainer({ input: f, fnm: 'x.bin' })).metaBlocksUpdated).to.equal(3);
  });

  it('update --dry-run writes nothing; a name too long for the block is an error', async () => {
    const f = path.join(dir, 'upd2.sbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'v2-small.sbx'), f);
    await updateContainer({ input: f, snm: 'x', dryRun: true });
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v2-small.sbx')))).to.equal(true);
    let err: Error | null = null;
    await updateContainer({ input: f, fnm: 'a-very-long-file-name-that-cannot-fit.bin' }).catch((e) => (err = e));
    expect((err as unknown as Error).message).to.match(/Too much metadata/);
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v2-small.sbx')))).to.equal(true);
  });

  it('update refuses a metadata block whose FSZ/FDT/SDT is beyond 2^53 (cannot be written back exactly; was a Node range error); nothing is written', async () => {
    const f = path.join(dir, 'upd4.sbx');
    const c = fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx'));
    const at = c.indexOf(Buffer.from('FDT\x08', 'latin1'), 16) + 4;
    c.fill(0xff, at, at + 8);
    c[at] = 0x7f; // i64 max: read as the double 2^63
    const fixed = buildBlock(1, c.subarray(6, 12), 0, c.subarray(16, 512));
    fixed.copy(c, 0);
    fs.writeFileSync(f, c);
    const err = (await updateContainer({ input: f, fnm: 'x.bin' }).catch((e: unknown) => e)) as Error;
    expect(err).to.be.instanceOf(WorkflowError);
    expect(err.message).to.equal('Recorded FDT of the metadata block at byte 0 (0x0) is beyond 2^53 and cannot be kept exactly: the block is corrupt (nothing was written)');
    expect(fs.readFileSync(f).equals(c)).to.equal(true);
  });

  it('update with a name over 255 bytes (one byte holds a field\'s length) is bad input (exit 1), not a crash; nothing is written', async () => {
    const f = path.join(dir, 'upd3.sbx');
    fs.copyFileSync(path.join(VECTORS_DIR, 'v3-small.sbx'), f);
    for (const edit of [{ snm: 'x'.repeat(256) }, { fnm: 'é'.repeat(128) }]) {
      const err = (await updateContainer({ input: f, ...edit }).catch((e: unknown) => e)) as Error;
      expect(err).to.be.instanceOf(InputError);
      expect(err.message).to.match(/is 256 bytes long \(UTF-8\); a metadata field holds at most 255/);
    }
    expect(fs.readFileSync(f).equals(fs.readFileSync(path.join(VECTORS_DIR, 'v3-small.sbx')))).to.equal(true);
    // 255 bytes fit a version 3 block.
    expect((await updateContainer({ input: f, snm: 'x'.repeat(255) })).metaBlocksUpdated).to.equal(1);
  });
});
