import * as fs from 'fs';
import * as path from 'path';
import { expect } from 'chai';
import { decodeContainer } from '../../../src/sbx/decode';
import { checkContainer } from '../../../src/sbx/check';
import { repairContainer } from '../../../src/sbx/repair';
import { sortContainer } from '../../../src/sbx/sort';
import { showContainer } from '../../../src/sbx/show';
import { buildBlock, isValidBlock, parseHeader } from '../../../src/sbx/format/header';
import { encodeMetadataFields, encodeMetadataPayload, parseMetadataFields } from '../../../src/sbx/format/metadata';
import { BufferReader } from '../../../src/sbx/reader';
import { scanBlocks } from '../../../src/sbx/format/scan';
import { guessBurstLevel } from '../../../src/sbx/format/burst-guess';
import { WorkflowError } from '../../../src/sbx/workflow-errors';
import { VECTORS_DIR } from './vectors';
import { seededBytes, seededRandom, tempDir } from './workflow-helpers';

/** Runs every reading workflow on `file`; each must finish with stats or a WorkflowError/InputError, never crash. */
async function runAll(file: string, dir: string): Promise<string[]> {
  const outcomes: string[] = [];
  const attempt = async (name: string, f: () => Promise<unknown>) => {
    try {
      await f();
      outcomes.push(`${name}:ok`);
    } catch (e) {
      const err = e as Error;
      expect(['WorkflowError', 'InputError'], `${name}: ${err.stack}`).to.include(err.name);
      outcomes.push(`${name}:${err.message}`);
    }
  };
  await attempt('decode', () => decodeContainer({ input: file, output: path.join(dir, 'o'), force: true }));
  await attempt('decode-', () => decodeContainer({ input: file, output: '-', stdout: fs.createWriteStream('/dev/null') }));
  await attempt('check', () => checkContainer({ input: file, hash: true }));
  await attempt('show', () => showContainer({ input: file, showAll: true, guessBurst: true }));
  await attempt('sort', () => sortContainer({ input: file, output: path.join(dir, 's'), force: true }));
  const copy = path.join(dir, 'r');
  fs.copyFileSync(file, copy);
  await attempt('repair', () => repairContainer({ input: copy }));
  return outcomes;
}

describe('sbx workflows on bad input', () => {
  let dir: string;
  before(() => (dir = tempDir('bad')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };
  const ec = () => fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-200k.ecsbx'));

  it('zero-filled and random files: "Failed to find reference block"', async () => {
    for (const f of [write('zeros', Buffer.alloc(100000)), write('random', seededBytes(100000, 42)), write('empty', Buffer.alloc(0))]) {
      const outcomes = await runAll(f, dir);
      expect(outcomes.filter((o) => !o.startsWith('show')).every((o) => o.endsWith('Failed to find reference block')), outcomes.join('\n')).to.equal(true);
    }
  });

  it('truncated container: the lost tail (parity lane) is rebuilt by repair; cut into the data, decode zero-fills to FSZ as blkar and says hash mismatch', async () => {
    const v = ec();
    const cut = write('cut', v.subarray(0, 512 * 300));
    const c = await decodeContainer({ input: cut, output: path.join(dir, 'cut.out') });
    expect([c.hashMatches, c.fileSize, c.warnings]).to.deep.equal([false, 200000, []]);
    const f = write('trunc', v.subarray(0, v.length - 512 * 3));
    const d = await decodeContainer({ input: f, output: path.join(dir, 'trunc.out') });
    expect(d.hashMatches).to.equal(true);
    const r = await repairContainer({ input: f });
    expect(r.dataBlocksFailedToRepair).to.equal(0);
    expect(fs.readFileSync(f).equals(v)).to.equal(true);
  });

  it('bit flips everywhere: every workflow completes', async () => {
    const v = Buffer.from(ec());
    const rnd = seededRandom(7);
    for (let i = 0; i < 300; i++) v[Math.floor(rnd() * v.length)] ^= 1 << Math.floor(rnd() * 8);
    const outcomes = await runAll(write('flipped', v), dir);
    expect(outcomes).to.have.length(6);
  });

  it('wrong version byte: the header does not parse', () => {
    const b = Buffer.from(fs.readFileSync(path.join(VECTORS_DIR, 'v1-small.sbx')).subarray(0, 512));
    b[3] = 4;
    expect(parseHeader(b)).to.equal(null);
    b[3] = 0x11; // claims v17: CRC (seeded with the version) no longer matches
    expect(isValidBlock(b)).to.equal(false);
  });

  it('absurd metadata lengths and huge FSZ give a clear error, not a hang', async () => {
    const uid = Buffer.from('0a0b0c0d0e0f', 'hex');
    // A TLV claiming 255 bytes past the end of the payload: parsing stops there.
    const absurd = Buffer.alloc(112, 0x1a); // a version 2 payload
    Buffer.from('FNM\xff', 'latin1').copy(absurd);
    expect(parseMetadataFields(absurd)).to.deep.equal([]);
    const huge = buildBlock(17, uid, 0, encodeMetadataPayload({ fsz: 2 ** 52, rsd: 10, rsp: 2 }, 17));
    const f = write('hugefsz', Buffer.concat([huge, Buffer.alloc(512 * 40)]));
    const t0 = Date.now();
    const outcomes = await runAll(f, dir);
    expect(Date.now() - t0).to.be.below(20000);
    expect(outcomes.find((o) => o.startsWith('decode:'))).to.match(/Recorded file size .* is larger than/);
    expect(outcomes.find((o) => o.startsWith('repair:'))).to.match(/larger than|burst/);
    // FSZ within the maximum but far beyond the file: repair stops at the end of the file.
    const big = buildBlock(17, uid, 0, encodeMetadataPayload({ fsz: 10 ** 12, rsd: 10, rsp: 2 }, 17));
    const g = write('bigfsz', Buffer.concat([big, big, big, Buffer.alloc(512 * 10)]));
    const r = await repairContainer({ input: g, burst: 0 });
    expect(r.dataBlocksFailedToRepair).to.be.greaterThan(0);
    expect(fs.statSync(g).size).to.equal(512 * 13);
  });

  it('a recorded size far beyond what the container can hold (over 1 GiB more): the output ends with the last block decoded, no sparse TiB to hash', async () => {
    const uid = Buffer.from('0a0b0c0d0e0f', 'hex');
    const meta = buildBlock(1, uid, 0, encodeMetadataPayload({ fsz: 2 ** 40, hsh: { type: 'sha256', digest: Buffer.alloc(32, 7) } }, 1));
    const data = [1, 2, 3].map((seq) => buildBlock(1, uid, seq, Buffer.alloc(496, seq)));
    const out = path.join(dir, 'forged.out');
    const s = await decodeContainer({ input: write('forged', Buffer.concat([Buffer.alloc(512), meta, ...data])), output: out });
    expect([fs.statSync(out).size, s.fileSize, s.hashMatches]).to.deep.equal([3 * 496, 3 * 496, false]);
    expect(s.warnings).to.deep.equal([
      'Recorded file size 1099511627776 is far more than the container can hold (2560 bytes: at most 2480 bytes of data); ' +
        'the output ends after the last block decoded, at 1488 bytes, not zero-filled up to it (metadata block at byte 512 (0x200))',
    ]);
    // Blocks far apart still land where blkar puts them, and a last chunk past FSZ is cut as blkar cuts it.
    const far = buildBlock(1, uid, 0, encodeMetadataPayload({ fsz: 5000 }, 1));
    const t = await decodeContainer({ input: write('far', Buffer.concat([far, data[0], buildBlock(1, uid, 11, Buffer.alloc(496, 11))])), output: path.join(dir, 'far.out') });
    const got = fs.readFileSync(path.join(dir, 'far.out'));
    expect([t.fileSize, t.warnings, got[0], got[495], got[496], got[4960], got[4999]]).to.deep.equal([5000, [], 1, 1, 0, 11, 11]);
  });

  it('an impossible recorded file size names the metadata block\'s position, and never prints rounded digits', async () => {
    const uid = Buffer.from('0a0b0c0d0e0f', 'hex');
    const meta = buildBlock(1, uid, 0, encodeMetadataPayload({ fsz: 2 ** 52 }, 1));
    const f = write('fsz-at-512', Buffer.concat([Buffer.alloc(512), meta, Buffer.alloc(512 * 2)]));
    const err = (await decodeContainer({ input: f, output: path.join(dir, 'fsz.out'), force: true }).catch((e: unknown) => e)) as Error;
    expect(err).to.be.instanceOf(WorkflowError);
    expect(err.message).to.match(/^Recorded file size 4503599627370496 is larger than .*; the metadata block at byte 512 \(0x200\) is corrupt$/);
    // FSZ 2^64 - 1 is read as a double (18446744073709552000): the message says what is known.
    const max = Buffer.from(meta);
    const at = max.indexOf(Buffer.from('FSZ', 'latin1')) + 4;
    max.fill(0xff, at, at + 8);
    const g = write('fsz-max', Buffer.concat([buildBlock(1, uid, 0, max.subarray(16)), Buffer.alloc(512 * 2)]));
    const err2 = (await decodeContainer({ input: g, output: path.join(dir, 'fsz.out'), force: true }).catch((e: unknown) => e)) as Error;
    expect(err2.message).to.match(/^Recorded file size above 2\^53 is larger than .*at byte 0 \(0x0\) is corrupt$/);
  });

  it('an EC metadata block without RSD/RSP is refused with a message', async () => {
    const uid = Buffer.from('0a0b0c0d0e0f', 'hex');
    const f = write('norsd', buildBlock(17, uid, 0, encodeMetadataPayload({ fsz: 10 }, 17)));
    let err: Error | null = null;
    await decodeContainer({ input: f, output: path.join(dir, 'x'), force: true }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(WorkflowError);
    expect((err as unknown as Error).message).to.match(/RSD/);
  });

  it('seeded fuzz (a fixed 300 mutations): parsers never throw, scanner and burst guesser always finish', async () => {
    // A fixed count, not a deadline: the same inputs on every machine, so a failure reproduces.
    const rnd = seededRandom(20241121);
    const seeds = [fs.readFileSync(path.join(VECTORS_DIR, 'ec17-default-1000.ecsbx')).subarray(0, 16384), fs.readFileSync(path.join(VECTORS_DIR, 'v2-small.sbx'))];
    const mutate = (b: Buffer, most: number) => {
      const flips = 1 + Math.floor(rnd() * most);
      for (let i = 0; i < flips; i++) {
        const at = Math.floor(rnd() * b.length);
        b[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : b[at] ^ (1 << Math.floor(rnd() * 8));
      }
      return b;
    };
    for (let run = 0; run < 300; run++) {
      const base = mutate(Buffer.from(seeds[run % seeds.length]), 20);
      for (let off = 0; off + 16 <= base.length; off += 128) {
        const h = parseHeader(base, off);
        if (h) {
          isValidBlock(base, undefined, off);
          parseMetadataFields(base.subarray(off + 16, off + 512));
        }
      }
      const found = [];
      for await (const b of scanBlocks(new BufferReader(base), 0, base.length)) found.push(b);
      const ref = found.find((b) => b.header.seq === 0);
      if (ref && ref.header.version === 17) {
        await guessBurstLevel(new BufferReader(base), { version: 17, uid: ref.header.uid, d: 10, p: 2 });
      }
      // The metadata parser on a damaged payload (lengths and IDs included): whatever it keeps, encoding that
      // again and re-parsing gives the same fields (nothing half-parsed survives).
      const payload = mutate(Buffer.from(seeds[0].subarray(16, 512)), 8);
      const fields = parseMetadataFields(payload);
      expect(parseMetadataFields(encodeMetadataFields(fields, 17)), `run ${run}`).to.deep.equal(fields);
    }
  });
});
