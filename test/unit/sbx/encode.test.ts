import { expect } from 'chai';
import { createHash } from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { encodeFile, EncodeParamError, encodeStream, resolveEncodeParams } from '../../../src/sbx/encode';
import { resolveByteRange } from '../../../src/sbx/byte-range';
import { uidToHex } from '../../../src/sbx/format/header';
import { MetadataTooLargeError, parseMetadataPayload } from '../../../src/sbx/format/metadata';
import { formatMultihash } from '../../../src/sbx/format/multihash';
import { RenderHelper } from '../../../src/sbx/render-helper';
import { readVector, VECTOR_CASES, VECTORS_DIR } from './vectors';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('sbx/encode', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-encode-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('re-encodes every reference container byte for byte', () => {
    for (const c of VECTOR_CASES) {
      it(`${c.container} (v${c.version}${c.d ? ` ${c.d}/${c.p}/${c.burst}` : ''}, ${c.hash}${c.noMeta ? ', no metadata' : ''})`, async () => {
        const out = path.join(dir, c.container);
        await encodeFile(path.join(VECTORS_DIR, `${c.name}.bin`), out, {
          version: c.version,
          d: c.d,
          p: c.p,
          burst: c.burst,
          hash: c.hash,
          noMeta: c.noMeta,
          uid: Buffer.from(c.uid, 'hex'),
          fdt: c.time ?? undefined,
          sdt: c.time ?? undefined,
        });
        expect(sha256(fs.readFileSync(out))).to.equal(sha256(readVector(c.container)));
      });
    }
  });

  /** The §12.1 / §12.3 input: byte i = i mod 256, 1000 bytes, mtime 1500000000. */
  function input1000(): string {
    const p = path.join(dir, 'input.bin');
    fs.writeFileSync(p, Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256)));
    fs.utimesSync(p, 1500000000, 1500000000);
    return p;
  }

  it('§12.1: version 1 container of the 1000-byte input (FDT from the file mtime)', async () => {
    const out = path.join(dir, 'input.sbx');
    const st = await encodeFile(input1000(), out, { version: 1, uid: Buffer.from('0123456789ab', 'hex'), sdt: 1500000000 });
    const b = fs.readFileSync(out);
    expect(b.length).to.equal(2048);
    expect(sha256(b)).to.equal('511b5443b109855ab7f56ad345d0b0cd709dbc20a82c89b8634dec1b1bc9aa97');
    expect([0, 1, 2, 3].map((i) => b.subarray(i * 512 + 4, i * 512 + 6).toString('hex'))).to.deep.equal(['bd50', '5399', '1705', 'f54f']);
    expect(st.hash && formatMultihash(st.hash)).to.equal('SHA256 - a8af099bf2e878609558dbf69d8f88f4a31040a8cf84b549a0cfa912f12ffc3f');
  });

  it('§12.3: EC-SBX defaults (17/10/2/12), 69 632 bytes with 121 zero holes', async () => {
    const out = path.join(dir, 'input.bin.ecsbx');
    const st = await encodeFile(input1000(), out, { uid: Buffer.from('0123456789ab', 'hex'), sdt: 1500000000 });
    const b = fs.readFileSync(out);
    expect(sha256(b)).to.equal('9e226a262d17160c433eb3e2fa0bc349392842ea44311455f88085587f4ff33c');
    expect(b.subarray(123 * 512 + 16, 123 * 512 + 24).toString('hex')).to.equal('40f82d959a22f74f');
    expect(st.containerSize).to.equal(69632);
  });

  it("stats equal blkar's encode --json for the same input (encode.json)", async () => {
    const json = JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, 'json', 'encode.json'), 'utf8')).stats;
    const st = await encodeFile(path.join(VECTORS_DIR, 'ec17-default-1000.bin'), path.join(dir, 'e.ecsbx'), { uid: Buffer.from('0C0000000009', 'hex') });
    expect({
      fileUID: uidToHex(st.uid),
      sbxVersion: st.version,
      blockSizeUsedInEncoding: st.blockSize,
      dataSizeUsedInEncoding: st.dataSize,
      numberOfBlocksWritten: st.blocksWritten,
      numberOfBlocksWrittenMetadata: st.metaBlocksWritten,
      numberOfBlocksWrittenData: st.dataBlocksWritten,
      numberOfBlocksWrittenParity: st.parityBlocksWritten,
      amountOfDataEncodedBytes: st.bytesEncoded,
      fileSize: st.fileSize,
      sbxContainerSize: st.containerSize,
      hash: st.hash && formatMultihash(st.hash),
    }).to.deep.equal(Object.fromEntries(Object.entries(json).filter(([k]) => k !== 'timeElapsed')));
  });

  it('small batches give the same bytes as large ones (batching along super block sets)', async () => {
    const src = path.join(dir, 'src-300k.bin');
    fs.writeFileSync(src, Buffer.from(Array.from({ length: 300001 }, (_, i) => (i * 7919) & 0xff)));
    for (const opts of [{}, { version: 18 as const, d: 3, p: 2, burst: 5 }, { version: 2 as const }, { version: 19 as const, d: 2, p: 1 }]) {
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      const common = { ...opts, uid: Buffer.alloc(6, 9), sdt: 5, snm: 'x' };
      await encodeFile(src, a, common);
      await encodeFile(src, b, { ...common, batchBytes: 1 });
      expect(fs.readFileSync(a).equals(fs.readFileSync(b)), JSON.stringify(opts)).to.equal(true);
    }
  });

  it('a worker thread rendering the batches it is free for gives the same bytes, from a file and from a stream', async () => {
    const src = path.join(dir, 'src-1m.bin');
    const data = Buffer.from(Array.from({ length: 1000003 }, (_, i) => (i * 2654435761) >>> 24));
    fs.writeFileSync(src, data);
    const render = RenderHelper.prototype.render;
    let parts = 0;
    RenderHelper.prototype.render = function (part) {
      parts++;
      return render.call(this, part);
    };
    try {
      for (const opts of [{}, { version: 1 as const }, { version: 18 as const, d: 3, p: 2, burst: 5 }, { version: 19 as const, d: 5, p: 3, burst: 1 }]) {
        const common = { ...opts, uid: Buffer.alloc(6, 9), sdt: 5, snm: 'x', batchBytes: 150 * 1024 };
        const alone = path.join(dir, 'alone');
        const helped = path.join(dir, 'helped');
        await encodeFile(src, alone, { ...common, renderWorker: false });
        let before = parts;
        await encodeFile(src, helped, { ...common, renderWorker: true });
        expect(fs.readFileSync(helped).equals(fs.readFileSync(alone)), JSON.stringify(opts)).to.equal(true);
        expect(parts - before, `the worker rendered batches of ${JSON.stringify(opts)}`).to.be.greaterThan(0);
        before = parts;
        await encodeStream(Readable.from([data.subarray(0, 300000), data.subarray(300000)]), helped, { ...common, fnm: 'src-1m.bin', fdt: Math.floor(fs.statSync(src).mtimeMs / 1000), renderWorker: true });
        expect(fs.readFileSync(helped).equals(fs.readFileSync(alone)), `stream ${JSON.stringify(opts)}`).to.equal(true);
        expect(parts - before, `the worker rendered batches of the stream ${JSON.stringify(opts)}`).to.be.greaterThan(0);
      }
    } finally {
      RenderHelper.prototype.render = render;
    }
  });

  it('a stream (stdin) gives the same container as the file, minus FNM/FDT; FSZ is the byte count', async () => {
    const src = path.join(VECTORS_DIR, 'ec17-default-200k.bin');
    const common = { uid: Buffer.from('0C0000000002', 'hex'), sdt: 1600000101 };
    const viaStream = path.join(dir, 'ec17-default-200k.ecsbx');
    const st = await encodeStream(fs.createReadStream(src, { highWaterMark: 1000 }), viaStream, { ...common, fnm: 'ec17-default-200k.bin', fdt: 1600000101 });
    expect(fs.readFileSync(viaStream).equals(readVector('ec17-default-200k.ecsbx'))).to.equal(true);
    expect(st.fileSize).to.equal(200000);
    const bare = path.join(dir, 'bare.ecsbx');
    await encodeStream(Readable.from([Buffer.from('hello')]), bare, common);
    const meta = parseMetadataPayload(fs.readFileSync(bare).subarray(16, 512));
    expect(meta.fnm).to.equal(undefined);
    expect(meta.fdt).to.equal(undefined);
    expect([meta.snm, meta.fsz, meta.sdt]).to.deep.equal(['bare.ecsbx', 5, 1600000101]);
  });

  it('--from / --to-inc / --to-exc encode exactly that range (FSZ = its length)', async () => {
    const src = path.join(VECTORS_DIR, 'v1-100k.bin');
    const bytes = fs.readFileSync(src);
    const slice = path.join(dir, 'slice.bin');
    fs.writeFileSync(slice, bytes.subarray(1234, 56790));
    const common = { version: 1 as const, uid: Buffer.alloc(6, 5), sdt: 1, fdt: 2, fnm: 'n', snm: 'm' };
    for (const range of [{ from: 1234, toExc: 56790 }, { from: 1234, toInc: 56789 }]) {
      const a = path.join(dir, 'range.sbx');
      const st = await encodeFile(src, a, { ...common, ...range });
      expect(st.bytesEncoded).to.equal(56790 - 1234);
      const b = path.join(dir, 'whole-slice.sbx');
      await encodeFile(slice, b, common);
      expect(fs.readFileSync(a).equals(fs.readFileSync(b))).to.equal(true);
    }
    // blkar's rule (byte-exact for encode): a start past the end is the last byte; an end below the start gives one byte.
    expect(resolveByteRange({ from: 200 }, 100, 1)).to.deep.equal({ start: 99, end: 100 });
    expect(resolveByteRange({ from: 50, toInclusive: 10 }, 100, 1)).to.deep.equal({ start: 50, end: 51 });
    expect(resolveByteRange({ toExclusive: 1000 }, 100, 1)).to.deep.equal({ start: 0, end: 100 });
    expect(resolveByteRange({}, 0, 1)).to.deep.equal({ start: 0, end: 0 });
  });

  it("blkar's parameter rules", () => {
    expect(resolveEncodeParams({})).to.deep.equal({ version: 17, d: 10, p: 2, burst: 12 });
    expect(resolveEncodeParams({ version: 18, d: 4, p: 2 })).to.deep.equal({ version: 18, d: 4, p: 2, burst: 0 });
    expect(resolveEncodeParams({ version: 1, d: 4 })).to.deep.equal({ version: 1, d: 0, p: 0, burst: 0 });
    expect(() => resolveEncodeParams({ d: 4 })).to.throw(EncodeParamError);
    expect(() => resolveEncodeParams({ version: 17, d: 4 })).to.throw(EncodeParamError);
    expect(() => resolveEncodeParams({ version: 17, d: 200, p: 57 })).to.throw(EncodeParamError);
  });

  it('"Too much metadata" is reported before the output is written to', async () => {
    const out = path.join(dir, 'toolong.sbx');
    let err: unknown = null;
    await encodeFile(path.join(VECTORS_DIR, 'v2-small.bin'), out, { version: 2, fnm: 'f'.repeat(40) }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(MetadataTooLargeError);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('an input range larger than the version can hold fails as blkar says it (exit 2), before the output is created', async () => {
    const big = path.join(dir, 'big-sparse.bin');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 481036337040 + 1); // one byte more than version 2 holds (sparse)
    const out = path.join(dir, 'big.sbx');
    let err: (Error & { exitCode?: number }) | null = null;
    await encodeFile(big, out, { version: 2 }).catch((e) => (err = e));
    expect((err as unknown as Error).message).to.equal(
      `Encoding range specified for "${big}" exceeds the maximum supported file size, size to be encoded : 481036337041, max : 481036337040`,
    );
    expect((err as unknown as { exitCode: number }).exitCode).to.equal(2);
    expect(fs.existsSync(out)).to.equal(false);
    // A range inside the limit is fine.
    expect((await encodeFile(big, out, { version: 2, toExc: 1000 })).fileSize).to.equal(1000);
    fs.rmSync(big);
  });

  it('a FIFO (or any pipe given as a path) is read to its end like stdin, not taken for an empty file', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const data = fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.bin'));
    const out = path.join(dir, 'fifo.sbx');
    const [st] = await Promise.all([encodeFile(fifo, out, { version: 1 }), fs.promises.writeFile(fifo, data)]);
    expect([st.fileSize, st.bytesEncoded]).to.deep.equal([data.length, data.length]);
    const c = fs.readFileSync(out);
    expect(parseMetadataPayload(c.subarray(16, 512)).fnm).to.equal('fifo');
    const decoded = Buffer.concat(Array.from({ length: Math.ceil(data.length / 496) }, (_, i) => c.subarray(512 * (i + 1) + 16, 512 * (i + 2)))).subarray(0, data.length);
    expect(sha256(decoded)).to.equal(sha256(data));
  });

  it('a burst level whose super block set cannot be held in memory is refused before the output is touched', async () => {
    const out = path.join(dir, 'huge-burst.ecsbx');
    fs.writeFileSync(out, 'precious');
    let err: unknown = null;
    await encodeFile(path.join(VECTORS_DIR, 'v1-small.bin'), out, { version: 17, d: 10, p: 2, burst: 99999999999 }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(EncodeParamError);
    expect((err as Error).message).to.match(/^Burst error resistance level 99999999999 is too large .* at most 174762 with 10 \+ 2 shards of version 17/);
    expect(fs.readFileSync(out, 'utf8')).to.equal('precious');
    // The largest level it names still encodes.
    const ok = await encodeFile(path.join(VECTORS_DIR, 'v1-small.bin'), out, { version: 17, d: 10, p: 2, burst: 2000, uid: Buffer.alloc(6, 1) });
    expect(ok.burst).to.equal(2000);
  });

  it('no metadata: hash stat is null; EC ignores --no-meta', async () => {
    const st = await encodeFile(path.join(VECTORS_DIR, 'v1-nometa.bin'), path.join(dir, 'nm.sbx'), { version: 1, noMeta: true });
    expect(st.hash).to.equal(null);
    expect(st.metaBlocksWritten).to.equal(0);
    const ec = await encodeFile(path.join(VECTORS_DIR, 'v1-nometa.bin'), path.join(dir, 'nm.ecsbx'), { noMeta: true });
    expect(ec.metaBlocksWritten).to.equal(3);
  });
});
