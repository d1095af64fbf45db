/**
 * THE CORE: the bytes of any container block — metadata copy, data, padding, parity or burst hole —
 * computed from the source bytes of its own block set only. Both the streaming encoder and the
 * mounted /sbx/ view use it. Reading goes through a RandomReader; nothing here knows files or FUSE.
 *
 * A render call works on a range of block indices: it first plans which block sets the range needs
 * (a sorted list of distinct sets; with burst interleaving a range touches up to B sets per lane),
 * loads their source bytes (one read per run of consecutive sets, 0x1A past the end of the data),
 * computes Reed-Solomon parity for all sets that need it in one codec call per run, then writes each
 * block's payload and header (CRC) straight into the output buffer.
 */
import { ContainerSpec } from './container-spec';
import { writeHeader } from './header';
import { RandomReader } from '../reader';
import { ReedSolomon } from './reed-solomon';
import { HEADER_SIZE, PAD_BYTE } from './specs';
import { HEAP, SbxKernels } from './wasm-kernels';
import { OperationError } from '../../errors';

/** The reader returned fewer bytes than the container needs (source shrank or is shorter than fileSize). */
export class SourceTooShortError extends OperationError {
  constructor(readonly offset: number, readonly expected: number, readonly got: number) {
    super(`source ended early: wanted ${expected} bytes at offset ${offset}, got ${got}`);
    this.name = 'SourceTooShortError';
  }
}

/** Which block sets a render needs. Slot i of the source buffer holds set `sets[i]`. */
export interface SetPlan {
  /** Sorted, distinct block set numbers (for versions 1–3 a "set" is one data chunk). */
  readonly sets: readonly number[];
  /** needsParity[i]: some parity block of sets[i] is rendered. */
  readonly needsParity: readonly boolean[];
  /** True when sets are consecutive (slot = set − sets[0]). */
  readonly contiguous: boolean;
  /**
   * shards[i]: the data shards (positions 0 … D−1, ascending) of sets[i] that are rendered, for slots that need no
   * parity: load() reads just those (a block of a large set needs one shard, not the D of them). Absent: all.
   */
  readonly shards?: readonly (readonly number[] | null)[];
}

/** A plan for the consecutive sets [first, end), parity for all (what the streaming encoder renders). */
export function contiguousPlan(first: number, end: number): SetPlan {
  const n = Math.max(0, end - first);
  return {
    sets: Array.from({ length: n }, (_, i) => first + i),
    needsParity: new Array<boolean>(n).fill(true),
    contiguous: true,
  };
}

/** Renders container blocks for one ContainerSpec. Holds the RS codec and scratch space; reuse it. */
export class ContainerRenderer {
  private readonly rs: ReedSolomon | null;
  private parityScratch = new Uint8Array(0);
  /** Data shards per set (1 for versions 1–3). */
  readonly setDataChunks: number;
  /** Source bytes per set = setDataChunks × dataSize. */
  readonly setSourceSize: number;

  constructor(readonly spec: ContainerSpec) {
    const l = spec.layout;
    this.rs = l.ec ? new ReedSolomon(l.d, l.p) : null;
    this.setDataChunks = l.ec ? l.d : 1;
    this.setSourceSize = this.setDataChunks * l.dataSize;
  }

  /** Which sets rendering blocks [firstIndex, firstIndex + count) needs, for data of `fileSize` bytes. */
  plan(firstIndex: number, count: number, fileSize = this.spec.fileSize): SetPlan {
    const l = this.spec.layout;
    const lastSeq = l.lastSeq(fileSize);
    const t = l.setSize;
    const d = this.setDataChunks;
    const parityOf = new Map<number, boolean>();
    const shardsOf = new Map<number, number[]>();
    for (let idx = firstIndex; idx < firstIndex + count; idx++) {
      if (l.isMetadataIndex(idx)) continue;
      const seq = l.indexToSeq(idx);
      if (seq > lastSeq) continue;
      const set = Math.floor((seq - 1) / t);
      const pos = seq - 1 - set * t;
      parityOf.set(set, pos >= d || (parityOf.get(set) ?? false));
      if (pos < d) {
        const list = shardsOf.get(set);
        if (list) list.push(pos);
        else shardsOf.set(set, [pos]);
      }
    }
    const sets = [...parityOf.keys()].sort((a, b) => a - b);
    const needsParity = sets.map((s) => parityOf.get(s) as boolean);
    return {
      sets,
      needsParity,
      contiguous: sets.length === 0 || sets[sets.length - 1] - sets[0] === sets.length - 1,
      shards: sets.map((s, i) => (needsParity[i] ? null : (shardsOf.get(s) as number[]).sort((a, b) => a - b))),
    };
  }

  /**
   * Loads the source bytes of a plan's sets: slot i at i × setSourceSize, bytes past `fileSize`
   * filled with 0x1A. One reader call per run of consecutive sets. Rejects with SourceTooShortError
   * if the reader has fewer bytes than `fileSize` promises. `alloc` makes the buffer (shared memory for a worker).
   */
  async load(plan: SetPlan, reader: RandomReader, fileSize = this.spec.fileSize, alloc: (n: number) => Buffer = Buffer.allocUnsafe): Promise<Buffer> {
    const ss = this.setSourceSize;
    const out = alloc(plan.sets.length * ss);
    const partial = (k: number) => (plan.shards?.[k] ?? null) !== null && plan.shards?.[k]?.length !== this.setDataChunks;
    let i = 0;
    while (i < plan.sets.length) {
      if (partial(i)) {
        await this.loadShards(plan.sets[i], plan.shards?.[i] as readonly number[], out, i * ss, reader, fileSize);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < plan.sets.length && plan.sets[j] === plan.sets[j - 1] + 1 && !partial(j)) j++;
      const start = plan.sets[i] * ss;
      const want = Math.max(0, Math.min(fileSize, plan.sets[j - 1] * ss + ss) - start);
      const got = want > 0 ? await reader.read(start, want) : Buffer.alloc(0);
      if (got.length < want) throw new SourceTooShortError(start, want, got.length);
      got.copy(out, i * ss, 0, want);
      out.fill(PAD_BYTE, i * ss + want, j * ss);
      i = j;
    }
    return out;
  }

  /** The given data shards of `set` into out[at + pos × dataSize …] (other shards' bytes left as they are). */
  private async loadShards(set: number, shards: readonly number[], out: Buffer, at: number, reader: RandomReader, fileSize: number): Promise<void> {
    const ds = this.spec.layout.dataSize;
    let a = 0;
    while (a < shards.length) {
      let b = a + 1;
      while (b < shards.length && shards[b] === shards[b - 1] + 1) b++;
      const start = set * this.setSourceSize + shards[a] * ds;
      const len = (shards[b - 1] + 1 - shards[a]) * ds;
      const want = Math.max(0, Math.min(fileSize, start + len) - start);
      const got = want > 0 ? await reader.read(start, want) : Buffer.alloc(0);
      if (got.length < want) throw new SourceTooShortError(start, want, got.length);
      const o = at + shards[a] * ds;
      got.copy(out, o, 0, want);
      out.fill(PAD_BYTE, o + want, o + len);
      a = b;
    }
  }

  /**
   * Writes blocks [firstIndex, firstIndex + count) to out[outOffset …] (count × blockSize bytes).
   * `source` holds the plan's sets (see load(); bytes past the data end must already be 0x1A).
   * `fileSize` decides which seqs exist (holes are zeros); `metadataBlock` overrides the spec's
   * (the encoder writes a placeholder first, as blkar does).
   */
  render(
    firstIndex: number,
    count: number,
    plan: SetPlan,
    source: Uint8Array,
    out: Uint8Array,
    outOffset = 0,
    fileSize = this.spec.fileSize,
    metadataBlock: Uint8Array | null = this.spec.metadataBlock,
  ): void {
    if (this.renderInKernel(firstIndex, count, plan, source, out, outOffset, fileSize, metadataBlock)) return;
    const { layout: l, uid } = this.spec;
    const bs = l.blockSize;
    const ds = l.dataSize;
    const t = l.setSize;
    const d = this.setDataChunks;
    const p = l.p;
    const ss = this.setSourceSize;
    const lastSeq = l.lastSeq(fileSize);
    const sets = plan.sets;
    const base = sets.length > 0 ? sets[0] : 0;
    const slotOf = plan.contiguous ? (s: number) => s - base : (s: number) => binarySearch(sets, s);

    // Parity for every slot that needs it, one codec call per run of consecutive slots.
    const parityBytes = sets.length * p * ds;
    if (this.rs && plan.needsParity.some((x) => x)) {
      if (this.parityScratch.length < parityBytes) this.parityScratch = new Uint8Array(parityBytes);
      const rs = this.rs;
      for (const [i, j] of parityRuns(plan.needsParity)) rs.encodeSets(source, this.parityScratch, ds, j - i, i * ss, i * p * ds);
    }

    for (let n = 0; n < count; n++) {
      const idx = firstIndex + n;
      const o = outOffset + n * bs;
      if (l.isMetadataIndex(idx)) {
        if (!metadataBlock) throw new Error('metadata block requested but none given');
        out.set(metadataBlock, o);
        continue;
      }
      const seq = l.indexToSeq(idx);
      if (seq > lastSeq) {
        out.fill(0, o, o + bs); // burst hole (or past the end): never written by blkar, reads as zeros
        continue;
      }
      const set = Math.floor((seq - 1) / t);
      const pos = seq - 1 - set * t;
      const slot = slotOf(set);
      if (slot < 0 || slot >= sets.length || sets[slot] !== set) throw new Error(`block set ${set} missing from plan`);
      let src: number;
      let from: Uint8Array;
      if (pos < d) {
        from = source;
        src = slot * ss + pos * ds;
      } else {
        from = this.parityScratch;
        src = (slot * p + (pos - d)) * ds;
      }
      out.set(from.subarray(src, src + ds), o + HEADER_SIZE);
      writeHeader(out, o, l.version, uid, seq);
    }
  }

  /**
   * render() in the WebAssembly kernels (wasm-kernels.ts): the plan's source is copied into their memory once,
   * parity and every data/parity block (header, payload, CRC) are made there, and the blocks come out in one copy.
   * Metadata copies and holes are filled here. False (nothing written) where the kernels are unavailable or the
   * job is too big for their heap: render() then does it in JavaScript, with the same bytes.
   */
  private renderInKernel(
    firstIndex: number,
    count: number,
    plan: SetPlan,
    source: Uint8Array,
    out: Uint8Array,
    outOffset: number,
    fileSize: number,
    metadataBlock: Uint8Array | null,
  ): boolean {
    const k = count > 0 ? SbxKernels.get() : null;
    const l = this.spec.layout;
    const ds = l.dataSize;
    if (!k || ds % 16 !== 0) return false;
    const bs = l.blockSize;
    const t = l.setSize;
    const d = this.setDataChunks;
    const p = l.p;
    const ss = this.setSourceSize;
    const sets = plan.sets;
    const rs = this.rs;
    const tablesBytes = rs ? rs.nibbleTables.length : 0;
    const srcBytes = Math.min(source.length, sets.length * ss);
    // Heap: uid | RS tables | source sets | parity | jobs | blocks
    const uidAt = HEAP;
    const tablesAt = uidAt + 16;
    const dataAt = tablesAt + align16(tablesBytes);
    const parityAt = dataAt + align16(sets.length * ss);
    const jobsAt = parityAt + align16(rs ? sets.length * p * ds : 0);
    const blocksAt = jobsAt + align16(count * 8);
    if (!k.reserve(blocksAt + count * bs - HEAP)) return false;
    const mem = k.bytes;
    mem.set(this.spec.uid.subarray(0, 6), uidAt);
    mem.set(source.subarray(0, srcBytes), dataAt);
    if (rs) {
      mem.set(rs.nibbleTables, tablesAt);
      for (const [i, j] of parityRuns(plan.needsParity)) k.rs(dataAt + i * ss, parityAt + i * p * ds, ds, j - i, d, p, tablesAt);
    }
    const lastSeq = l.lastSeq(fileSize);
    const base = sets.length > 0 ? sets[0] : 0;
    const jobs = new Int32Array(mem.buffer, mem.byteOffset + jobsAt, count * 2);
    for (let n = 0; n < count; n++) {
      const idx = firstIndex + n;
      const seq = l.isMetadataIndex(idx) ? -1 : l.indexToSeq(idx);
      if (seq < 0 || seq > lastSeq) {
        jobs[2 * n + 1] = -1;
        continue;
      }
      const set = Math.floor((seq - 1) / t);
      const pos = seq - 1 - set * t;
      const slot = plan.contiguous ? set - base : binarySearch(sets, set);
      if (slot < 0 || slot >= sets.length || sets[slot] !== set) throw new Error(`block set ${set} missing from plan`);
      if (pos >= d && !plan.needsParity[slot]) throw new Error(`parity of block set ${set} not planned`);
      jobs[2 * n] = seq;
      jobs[2 * n + 1] = pos < d ? dataAt + slot * ss + pos * ds : parityAt + (slot * p + (pos - d)) * ds;
    }
    k.blocks(jobsAt, count, ds, l.version, uidAt, blocksAt);
    out.set(mem.subarray(blocksAt, blocksAt + count * bs), outOffset);
    for (let n = 0; n < count; n++) {
      if (jobs[2 * n + 1] !== -1) continue;
      const o = outOffset + n * bs;
      if (l.isMetadataIndex(firstIndex + n)) {
        if (!metadataBlock) throw new Error('metadata block requested but none given');
        out.set(metadataBlock, o);
      } else {
        out.fill(0, o, o + bs); // burst hole (or past the end): never written by blkar, reads as zeros
      }
    }
    return true;
  }
}

const align16 = (n: number) => (n + 15) & ~15;

function binarySearch(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] === x) return mid;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

const renderers = new WeakMap<ContainerSpec, ContainerRenderer>();

/** The (cached) renderer of a spec. */
export function rendererFor(spec: ContainerSpec): ContainerRenderer {
  let r = renderers.get(spec);
  if (!r) {
    r = new ContainerRenderer(spec);
    renderers.set(spec, r);
  }
  return r;
}

/** Largest number of blocks rendered per step by readContainer (bounds scratch memory). */
const MAX_BLOCKS_PER_STEP = 16384;

/**
 * Container bytes [offset, offset + length), clamped to the container size (empty past the end).
 * Reads only the source bytes of the block sets those blocks belong to.
 */
export async function readContainer(spec: ContainerSpec, offset: number, length: number, reader: RandomReader): Promise<Buffer> {
  const l = spec.layout;
  const size = l.containerSize(spec.fileSize);
  if (offset < 0 || length <= 0 || offset >= size) return Buffer.alloc(0);
  const end = Math.min(size, offset + length);
  const bs = l.blockSize;
  const first = Math.floor(offset / bs);
  const last = Math.ceil(end / bs);
  const out = Buffer.allocUnsafe((last - first) * bs);
  const r = rendererFor(spec);
  for (let i = first; i < last; i += MAX_BLOCKS_PER_STEP) {
    const n = Math.min(MAX_BLOCKS_PER_STEP, last - i);
    const plan = r.plan(i, n);
    const source = await r.load(plan, reader);
    r.render(i, n, plan, source, out, (i - first) * bs);
  }
  return out.subarray(offset - first * bs, end - first * bs);
}

/** The whole block at `index` (blockSize bytes). RangeError past the end of the container. */
export async function blockAt(spec: ContainerSpec, index: number, reader: RandomReader): Promise<Buffer> {
  const l = spec.layout;
  if (!Number.isInteger(index) || index < 0 || index >= l.containerBlockCount(spec.fileSize)) {
    throw new RangeError(`block index ${index} is outside the container`);
  }
  return readContainer(spec, index * l.blockSize, l.blockSize, reader);
}

/** Runs [i, j) of consecutive slots that need parity: one codec call per run. */
function* parityRuns(needsParity: readonly boolean[]): Generator<[number, number]> {
  let i = 0;
  while (i < needsParity.length) {
    if (!needsParity[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < needsParity.length && needsParity[j]) j++;
    yield [i, j];
    i = j;
  }
}
