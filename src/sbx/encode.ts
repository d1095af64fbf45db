/**
 * The encode workflow (blkar `encode`): streams the input once, renders every container block
 * through the random-access core (ContainerRenderer) a batch of whole super block sets at a time,
 * writes them in place, and finally rewrites all metadata copies with the real FSZ and hash —
 * exactly as blkar does (placeholder metadata first, seek back at the end).
 * Reading the next batch and writing the previous ones overlap with rendering; on a machine with 2+ cores a
 * worker thread renders whole batches whenever it is idle while this thread hashes every batch and renders the
 * others (render-helper.ts), so a busy machine shifts the work instead of making one thread wait.
 */
import { promises as fsp } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { ContainerSpec, makeContainerSpec, standardMetadata } from './format/container-spec';
import { buildBlock } from './format/header';
import { Layout } from './format/layout';
import { encodeMetadataPayload, Metadata } from './format/metadata';
import { createHasher, DEFAULT_HASH_TYPE, HashType, Multihash } from './format/multihash';
import { contiguousPlan, ContainerRenderer } from './format/random-access';
import { RenderHelper, RenderSpec, renderSpecOf } from './render-helper';
import { isEcVersion, PAD_BYTE, SbxVersion, UID_LENGTH } from './format/specs';
import { UserError } from '../errors';
import { BytePosition, positionAsNumber, resolveByteRange } from './byte-range';
import { writeFully } from './file-io';
import { byteSize } from '../byte-size';
import { unlessAborted } from '../stop-signals';
import { WorkflowError } from './workflow-errors';

/** Bad encode parameters (a user-input error: the CLI maps it to exit code 1). */
export class EncodeParamError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'EncodeParamError';
  }
}

/** Resolved version / RS parameters. d, p, burst are 0 for versions 1–3. */
export interface EncodeParams {
  version: SbxVersion;
  d: number;
  p: number;
  burst: number;
}

/**
 * blkar's CLI defaulting rules (sbx-format.md §9.1): no version → 17/10/2/12; giving D, P or B
 * without a version is an error; an explicit EC version needs D and P, and B defaults to 0.
 * D/P/B are ignored for versions 1–3.
 */
export function resolveEncodeParams(opts: { version?: SbxVersion; d?: number; p?: number; burst?: number }): EncodeParams {
  if (opts.version === undefined) {
    if (opts.d !== undefined || opts.p !== undefined || opts.burst !== undefined) {
      throw new EncodeParamError('--rs-data, --rs-parity and --burst require --sbx-version to be specified');
    }
    return { version: 17, d: 10, p: 2, burst: 12 };
  }
  if (!isEcVersion(opts.version)) return { version: opts.version, d: 0, p: 0, burst: 0 };
  if (opts.d === undefined) throw new EncodeParamError(`--rs-data is required for version ${opts.version}`);
  if (opts.p === undefined) throw new EncodeParamError(`--rs-parity is required for version ${opts.version}`);
  const r = { version: opts.version, d: opts.d, p: opts.p, burst: opts.burst ?? 0 };
  if (!Number.isInteger(r.d) || r.d < 1 || r.d > 255) throw new EncodeParamError(`Invalid RS data shard count: ${r.d}`);
  if (!Number.isInteger(r.p) || r.p < 1 || r.p > 255) throw new EncodeParamError(`Invalid RS parity shard count: ${r.p}`);
  if (r.d + r.p > 256) throw new EncodeParamError(`RS data + parity shard count must be ≤ 256, got ${r.d + r.p}`);
  if (!Number.isInteger(r.burst) || r.burst < 0) throw new EncodeParamError(`Invalid burst error resistance level: ${r.burst}`);
  return r;
}

/** Largest super block set (B × (D + P) blocks) the encoder renders in memory: one of them is its smallest unit. */
const MAX_SUPER_SET_BYTES = 1 << 30;

/** Refuses, before anything is written, a burst level whose super block set the encoder could not hold. */
function checkSuperSetFits(layout: Layout): void {
  if (!layout.ec) return;
  const setBytes = layout.setSize * layout.blockSize;
  if (layout.burst * setBytes <= MAX_SUPER_SET_BYTES) return;
  throw new EncodeParamError(
    `Burst error resistance level ${layout.burst} is too large for this encoder: it renders a super block set of ` +
      `${layout.burst} × ${layout.setSize} blocks in memory, at most ${MAX_SUPER_SET_BYTES} bytes, so the level can be ` +
      `at most ${Math.floor(MAX_SUPER_SET_BYTES / setBytes)} with ${layout.d} + ${layout.p} shards of version ${layout.version}`,
  );
}

/** Progress of a running encode. */
export interface EncodeProgress {
  bytesProcessed: number;
  /** null for stdin. */
  totalBytes: number | null;
}

/** Options of encodeFile / encodeStream, mirroring blkar's. */
export interface EncodeOptions {
  /** Container version; with d/p/burst resolved by resolveEncodeParams (default 17/10/2/12). */
  version?: SbxVersion;
  d?: number;
  p?: number;
  burst?: number;
  /** Hash type for HSH (default sha256). */
  hash?: HashType;
  /** --no-meta (versions 1–3 only; ignored for 17–19). */
  noMeta?: boolean;
  /** 6-byte UID (default random). */
  uid?: Uint8Array;
  /** Byte range of the input: start (default 0). */
  from?: BytePosition;
  /** Inclusive end (--to-inc). */
  toInc?: BytePosition;
  /** Exclusive end (--to-exc). */
  toExc?: BytePosition;
  /** FNM override; undefined = file-name part of the input path (none for streams); null = omit. */
  fnm?: string | null;
  /** SNM override; undefined = file-name part of the output path; null = omit. */
  snm?: string | null;
  /** FDT override (seconds); undefined = input mtime (none for streams); null = omit. */
  fdt?: number | null;
  /** SDT (seconds); default = encode start time. */
  sdt?: number;
  /** Called about once per batch. */
  onProgress?: (p: EncodeProgress) => void;
  /** Source bytes per batch (default ~8 MiB, rounded to whole super block sets). */
  batchBytes?: number;
  /**
   * Render part of every batch on a worker thread while this one hashes and renders the rest: true, false,
   * or undefined = when there are 2+ CPUs and the input is known to span 4+ batches (a worker costs ~30 ms).
   */
  renderWorker?: boolean;
  /** Ends the encode with its reason (Ctrl-C): at once while it waits on its input, its writes under way done. */
  stop?: AbortSignal;
}

/** blkar's encode stats. */
export interface EncodeStats {
  uid: Buffer;
  version: SbxVersion;
  blockSize: number;
  dataSize: number;
  /** null for versions 1–3. */
  rsData: number | null;
  rsParity: number | null;
  burst: number | null;
  /** meta + data + parity. */
  blocksWritten: number;
  /** Metadata copies written (counted once, like blkar). */
  metaBlocksWritten: number;
  /** Data blocks including the last set's padding blocks (blkar's "data" count). */
  dataBlocksWritten: number;
  parityBlocksWritten: number;
  /** Bytes of input encoded (= FSZ). */
  bytesEncoded: number;
  /** blkar's "File size": equals bytesEncoded. */
  fileSize: number;
  /** Container size in bytes, holes included. */
  containerSize: number;
  /** null without metadata (blkar prints N/A / null). */
  hash: Multihash | null;
  elapsedMs: number;
}

/** Sequential byte source: fills buf[offset, offset+length) as far as possible, 0 at end. */
interface ChunkSource {
  read(buf: Buffer, offset: number, length: number): Promise<number>;
}

function fileChunkSource(h: fsp.FileHandle, start: number, length: number, name: string): ChunkSource {
  let pos = start;
  const end = start + length;
  return {
    async read(buf, offset, len) {
      let got = 0;
      while (got < len && pos < end) {
        const { bytesRead } = await h.read(buf, offset + got, Math.min(len - got, end - pos), pos).catch((err: NodeJS.ErrnoException) => {
          // Node's "EIO: i/o error, read" says neither which file nor where: a failing medium's user needs both.
          if (err instanceof Error && typeof err.code === 'string') err.message += ` "${name}" at byte ${pos} (0x${pos.toString(16).toUpperCase()})`;
          throw err;
        });
        if (bytesRead === 0) break;
        got += bytesRead;
        pos += bytesRead;
      }
      return got;
    },
  };
}

function streamChunkSource(input: AsyncIterable<Uint8Array>, skip: number, limit: number): ChunkSource {
  const it = input[Symbol.asyncIterator]();
  let pending: Uint8Array | null = null;
  let toSkip = skip;
  let left = limit;
  let done = false;
  return {
    async read(buf, offset, len) {
      let got = 0;
      while (got < len && left > 0 && !done) {
        if (!pending || pending.length === 0) {
          const r = await it.next();
          if (r.done) {
            done = true;
            break;
          }
          pending = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
          if (toSkip > 0) {
            const s = Math.min(toSkip, pending.length);
            toSkip -= s;
            pending = pending.subarray(s);
          }
          continue;
        }
        const n = Math.min(pending.length, len - got, left);
        buf.set(pending.subarray(0, n), offset + got);
        pending = pending.subarray(n);
        got += n;
        left -= n;
      }
      return got;
    },
  };
}

/**
 * Encodes the file at `inputPath` (or its --from/--to range) into a new container at `outputPath`
 * (created or truncated). Rejects with EncodeParamError / WorkflowError (input too large) / MetadataTooLargeError
 * before writing anything when the parameters are impossible; the output is left in place on I/O errors.
 */
export async function encodeFile(inputPath: string, outputPath: string, opts: EncodeOptions = {}): Promise<EncodeStats> {
  const h = await unlessAborted(fsp.open(inputPath, 'r'), opts.stop); // a FIFO's open waits for a writer
  try {
    const st = await h.stat();
    const mtime = Math.floor(st.mtimeMs / 1000);
    const named: EncodeOptions = {
      ...opts,
      fnm: opts.fnm === undefined ? path.basename(inputPath) : opts.fnm,
      fdt: opts.fdt === undefined ? (mtime >= 0 ? mtime : null) : opts.fdt,
    };
    // A pipe or character device (`<(tar c …)`, a FIFO, a tape) has no size to go by (st_size 0): it is read to
    // its end, as stdin is, instead of being taken for an empty file.
    if (!st.isFile() && !st.isBlockDevice()) return await encodeStream(h.createReadStream({ autoClose: false }), outputPath, named);
    // blkar encodes a byte-exact range (always "misaligned"): the shared rule with an alignment of 1.
    const { start, end } = resolveByteRange({ from: opts.from, toInclusive: opts.toInc, toExclusive: opts.toExc }, await byteSize(st), 1);
    return await encodeCore(fileChunkSource(h, start, end - start, inputPath), end - start, outputPath, named, inputPath);
  } finally {
    // Once stopped, a read may still wait on a FIFO's writer, and the close would wait for it.
    if (opts.stop?.aborted) h.close().catch(() => undefined);
    else await h.close();
  }
}

/**
 * Encodes a stream (e.g. process.stdin, blkar's `encode -`) into `outputPath`. No FNM/FDT unless
 * given; FSZ is the number of bytes read; --from/--to skip and limit the stream.
 */
export async function encodeStream(input: Readable | AsyncIterable<Uint8Array>, outputPath: string, opts: EncodeOptions = {}): Promise<EncodeStats> {
  const from = BigInt(opts.from ?? 0);
  const end = opts.toInc !== undefined ? BigInt(opts.toInc) + 1n : opts.toExc !== undefined ? BigInt(opts.toExc) : undefined;
  // A limit beyond 2^53 bytes is no limit for a stream (as --to-inc 18446744073709551615 means "to the end").
  const limit = end === undefined || end - from > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : end <= from ? 0 : Number(end - from);
  return encodeCore(streamChunkSource(input, positionAsNumber(from), limit), null, outputPath, {
    ...opts,
    fnm: opts.fnm ?? null,
    fdt: opts.fdt ?? null,
  });
}

async function encodeCore(source: ChunkSource, knownSize: number | null, outputPath: string, opts: EncodeOptions, inputPath?: string): Promise<EncodeStats> {
  const started = Date.now();
  const params = resolveEncodeParams(opts);
  const layout = new Layout({ ...params, metaEnabled: !opts.noMeta });
  checkSuperSetFits(layout);
  const hashType = opts.hash ?? DEFAULT_HASH_TYPE;
  const uid = Buffer.from(opts.uid ?? (require('crypto') as typeof import('crypto')).randomBytes(UID_LENGTH));
  if (uid.length !== UID_LENGTH) throw new EncodeParamError(`UID must be ${UID_LENGTH} bytes`);
  if (knownSize !== null && knownSize > layout.maxFileSize()) {
    // blkar's words and exit code (a failure of the operation), before anything is written.
    throw new WorkflowError(
      `Encoding range specified for "${inputPath ?? '-'}" exceeds the maximum supported file size, size to be encoded : ${knownSize}, max : ${layout.maxFileSize()}`,
    );
  }
  const sdt = opts.sdt ?? Math.floor(started / 1000);

  const metaFor = (fsz: number | undefined, hsh: Multihash): Metadata =>
    standardMetadata(layout, {
      fnm: opts.fnm ?? undefined,
      snm: opts.snm === undefined ? path.basename(outputPath) : opts.snm ?? undefined,
      fsz,
      fdt: opts.fdt ?? undefined,
      sdt,
      hsh,
    });
  const emptyHash: Multihash = { type: hashType, digest: createHasher(hashType).digest() };
  // blkar's placeholder: FSZ = requested length (absent for stdin), hash of the empty message.
  const placeholder = layout.metaEnabled ? metaFor(knownSize ?? undefined, emptyHash) : null;
  if (layout.metaEnabled) encodeMetadataPayload(metaFor(0, emptyHash), layout.version); // final size check, before writing
  const spec: ContainerSpec = makeContainerSpec({ ...params, metaEnabled: layout.metaEnabled, uid, fileSize: knownSize ?? 0, metadata: placeholder });
  const renderer = new ContainerRenderer(spec);

  // A "unit" is the smallest piece of source whose blocks fill a contiguous container region:
  // one super block set (B sets, or 1 set when B = 0) for EC, one chunk for versions 1–3.
  const unitSets = layout.ec ? Math.max(1, layout.burst) : 1;
  const unitSource = unitSets * renderer.setSourceSize;
  const unitBlocks = unitSets * layout.setSize;
  const batchUnits = Math.max(1, Math.floor((opts.batchBytes ?? 8 * 1024 * 1024) / unitSource));
  const batchSource = batchUnits * unitSource;
  const regionStart = (unit: number): number => (unit === 0 ? 0 : layout.metaCount + unit * unitBlocks);

  const bs = layout.blockSize;
  const batchBlocks = regionStart(batchUnits) - regionStart(0);
  const wantHelper =
    opts.renderWorker ?? (os.cpus().length >= 2 && batchUnits >= 2 && (knownSize === null || knownSize >= 4 * batchSource));
  const helper = wantHelper ? RenderHelper.start() : null;
  const helperSpec = renderSpecOf(spec);
  // Shared memory when a helper renders from and into the same buffers (nothing is copied to it).
  const alloc = (n: number) => (helper ? Buffer.from(new SharedArrayBuffer(n)) : Buffer.allocUnsafe(n));

  const out = await fsp.open(outputPath, 'w');
  // Batch slots: a batch is read into a free slot, hashed here in order, then rendered by whichever thread is
  // free (the helper takes a whole batch when idle, otherwise this thread renders it) and written at its own
  // position, so batches may finish out of order and neither thread waits for the other. A slot is reused
  // once its batch is written. Four slots keep the helper, this thread, the read and the writes busy at once.
  const slotCount = helper ? 4 : 2;
  const pending: Promise<void>[] = Array.from({ length: slotCount }, () => Promise.resolve());
  try {
    const hasher = layout.metaEnabled ? createHasher(hashType) : null;
    const bufs = Array.from({ length: slotCount }, () => alloc(batchSource));
    const outBufs = Array.from({ length: slotCount }, () => alloc(batchBlocks * bs));
    let total = 0;
    let unit = 0;
    let which = 0;
    let nextRead = source.read(bufs[0], 0, batchSource);
    for (;;) {
      const n = await unlessAborted(nextRead, opts.stop);
      const src = bufs[which];
      const final = n < batchSource;
      const next = (which + 1) % slotCount;
      if (!final) nextRead = quiet(pending[next].then(() => source.read(bufs[next], 0, batchSource))); // overlap the next read
      total += n;
      if (total > layout.maxFileSize()) {
        throw new WorkflowError(
          'Block seq num already at max, addition causes overflow. This might be due to file size being changed during the encoding, or too much data from stdin',
        );
      }
      src.fill(PAD_BYTE, n);
      hasher?.update(src.subarray(0, n));
      const firstSet = unit * unitSets;
      const setsHere = final ? layout.setCount(total) - firstSet : batchUnits * unitSets;
      const startIdx = regionStart(unit);
      const endIdx = final ? layout.containerBlockCount(total) : regionStart(unit + batchUnits);
      const count = endIdx - startIdx;
      if (outBufs[which].length < count * bs) outBufs[which] = alloc(count * bs);
      const ob = outBufs[which];
      const plan = contiguousPlan(firstSet, firstSet + setsHere);
      const renderHere = () => renderer.render(startIdx, count, plan, src, ob, 0, total);
      const write = () => (count > 0 ? writeRegion(out, layout, ob, startIdx, count, final ? total : null) : Promise.resolve());
      if (helper?.usable && helper.busy === 0 && !final && count > 0) {
        const job = helperPart(helper, helperSpec, src, ob, startIdx, endIdx, firstSet, firstSet + setsHere, total);
        // A failed helper is not a failed encode: this thread renders that batch itself.
        pending[which] = quiet(job.then(write, () => (renderHere(), write())));
      } else {
        renderHere();
        pending[which] = quiet(write());
      }
      opts.onProgress?.({ bytesProcessed: total, totalBytes: knownSize });
      if (final) break;
      unit += batchUnits;
      which = next;
    }
    await Promise.all(pending);

    let hash: Multihash | null = null;
    if (layout.metaEnabled && hasher) {
      hash = { type: hashType, digest: hasher.digest() };
      const block = buildBlock(layout.version, uid, 0, encodeMetadataPayload(metaFor(total, hash), layout.version));
      for (const idx of layout.metadataIndices()) await out.write(block, 0, block.length, idx * layout.blockSize);
    }
    const containerSize = layout.containerSize(total);
    if ((await out.stat()).isFile()) await out.truncate(containerSize); // a device written in place keeps its size
    const c = layout.calc(total);
    return {
      uid,
      version: layout.version,
      blockSize: layout.blockSize,
      dataSize: layout.dataSize,
      rsData: layout.ec ? layout.d : null,
      rsParity: layout.ec ? layout.p : null,
      burst: layout.ec ? layout.burst : null,
      blocksWritten: c.metadataBlockCount + c.dataOnlyBlockCount + c.dataParityBlockCount,
      metaBlocksWritten: c.metadataBlockCount,
      dataBlocksWritten: c.dataOnlyBlockCount,
      parityBlocksWritten: c.dataParityBlockCount,
      bytesEncoded: total,
      fileSize: total,
      containerSize,
      hash,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await Promise.allSettled(pending); // never close the handle under an in-flight write
    await out.close();
    await helper?.close();
  }
}

/** Posts blocks [startIdx, endIdx) of sets [firstSet, endSet) (source slot 0 = src start) to the helper. */
function helperPart(helper: RenderHelper, spec: RenderSpec, src: Buffer, ob: Buffer, startIdx: number, endIdx: number, firstSet: number, endSet: number, fileSize: number): Promise<number> {
  return helper.render({
    spec,
    source: src.buffer as SharedArrayBuffer,
    sourceOffset: src.byteOffset,
    sourceLength: src.length,
    out: ob.buffer as SharedArrayBuffer,
    outOffset: ob.byteOffset,
    firstIndex: startIdx,
    count: endIdx - startIdx,
    firstSet,
    endSet,
    fileSize,
  });
}

/** Marks a promise as handled (it is awaited later) so an early rejection is not "unhandled". */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/**
 * Writes rendered blocks [startIdx, startIdx+count). In the last batch (fileSize given) runs of
 * burst holes are skipped, so they stay sparse as blkar leaves them.
 */
async function writeRegion(out: fsp.FileHandle, layout: Layout, buf: Buffer, startIdx: number, count: number, fileSize: number | null): Promise<void> {
  const bs = layout.blockSize;
  if (fileSize === null || !layout.ec || layout.burst === 0) {
    await writeFully(out, buf.subarray(0, count * bs), startIdx * bs);
    return;
  }
  let i = 0;
  while (i < count) {
    if (layout.kindOfIndex(startIdx + i, fileSize) === 'hole') {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < count && layout.kindOfIndex(startIdx + j, fileSize) !== 'hole') j++;
    await writeFully(out, buf.subarray(i * bs, j * bs), (startIdx + i) * bs);
    i = j;
  }
}
