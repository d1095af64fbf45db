// One SBX container found on the medium, as the index knew it at one moment (blocks with id ≤ upToId): its
// reference block, metadata and geometry, and the bytes of the two files /rescued/<UID>/ shows for it:
// - the container in canonical order, as `blkfs sbx rescue` then `sort` would write it: every metadata
//   position holds the first metadata block found, each other block sits at its seq's position (the last
//   copy on the medium wins, as in sort), positions with no block are zeros (sort leaves them unwritten);
// - the decoded file: data chunks in order, truncated to FSZ, missing chunks rebuilt with Reed-Solomon when
//   their block set still has D blocks. A chunk that can be neither read nor rebuilt is never zeros: the
//   read stops there (short read, then EIO).
// Every block is re-read from the cache and re-checked (CRC, version, UID, seq) before it is used.
// Two different containers of one UID and version on the medium (an old and a new encoding made with the same --uid,
// a stale copy next to an updated one) cannot be told apart block by block: their metadata blocks differ, so such
// a UID is neither decoded nor sorted (a file made of blocks of both, or repaired with the other's shards, would
// be data no container holds); info.json names the two metadata blocks.
import { Layout } from '../../sbx/format/layout';
import { isValidBlock } from '../../sbx/format/header';
import { Metadata, parseMetadataPayload } from '../../sbx/format/metadata';
import { ReedSolomon } from '../../sbx/format/reed-solomon';
import { blockSizeOf, dataSizeOf, HEADER_SIZE, isEcVersion, PAD_BYTE, SbxVersion } from '../../sbx/format/specs';
import type { SectorCache } from '../../cache/sector-cache';
import { sectorStates } from './sector-states';
import { BlockIndex, IndexedBlock } from './block-index';
import { PlacedBlock } from '../../sbx/format/burst-guess';
import { BurstEvidence, BurstLevel, burstKey, burstLevelOf } from './burst-level';
import { safeFileName } from './safe-file-name';
import { Anchor, anchorsOf, predictionSource, predictSeqs } from './block-positions';
import { conflictingMetadata, ContainerConflict, readBlock } from './container-conflict';

/** What a read of the decoded file got: the readable prefix, and where it stopped if it did. */
export interface DecodedRead {
  data: Buffer;
  /** Byte offset (in the decoded file) of the first byte no block or repair can give. */
  errorAt?: number;
}

/** Largest container (in seqs) whose seq → offset table is held in memory (8 bytes each); larger ones query. */
const MAX_TABLE_SEQS = 1 << 25;
/** Largest single cache read when fetching blocks. */
const MAX_FETCH = 4 << 20;
/** Seqs info.json looks at per step (bounds its memory). */
const INFO_WINDOW_SEQS = 1 << 16;

export class RescuedContainer {
  readonly version: SbxVersion;
  readonly blockSize: number;
  readonly dataSize: number;
  /** Layout of the canonical container; undefined for an EC container whose D and P are unknown. */
  readonly layout: Layout | undefined;
  /** Size of the decoded file (FSZ, or every chunk up to the last one found when there is no FSZ). */
  readonly fileSize: number | undefined;
  /** Largest seq that belongs to the container (blocks beyond it are ignored). */
  readonly lastSeq: number;
  /** An EC container's burst level: the key it is settled under, and what it rests on (burst-level.ts). */
  readonly burstKey: string | undefined;
  readonly burstEvidence: BurstEvidence | undefined;
  readonly burst: number | undefined;
  /** Valid blocks read while probing the burst level, not indexed yet: positions known, like the index's. */
  private readonly probedBlocks: readonly PlacedBlock[];
  private readonly rs: ReedSolomon | undefined;
  private table: { offsets: Float64Array; duplicated: Set<number> } | undefined;
  private anchors: Anchor[] | undefined;

  private constructor(
    readonly index: BlockIndex,
    private readonly cache: SectorCache,
    readonly uid: string,
    readonly upToId: number,
    readonly ref: IndexedBlock,
    /** The first valid metadata block found (bytes), if any. */
    readonly metadataBlock: Buffer | undefined,
    readonly metadata: Metadata | undefined,
    level: BurstLevel | undefined,
    readonly conflict: ContainerConflict | undefined,
  ) {
    this.burst = level?.burst;
    this.burstEvidence = level?.evidence;
    this.probedBlocks = level?.probed ?? [];
    this.version = ref.version;
    this.blockSize = blockSizeOf(this.version);
    this.dataSize = dataSizeOf(this.version);
    const ec = isEcVersion(this.version);
    const d = metadata?.rsd;
    const p = metadata?.rsp;
    if (conflict) this.layout = undefined;
    else if (!ec) this.layout = new Layout({ version: this.version, metaEnabled: true });
    else if (d !== undefined && p !== undefined) this.layout = new Layout({ version: this.version, d, p, burst: this.burst ?? 0 });
    this.burstKey = ec && d !== undefined && p !== undefined ? burstKey(uid, this.version, d, p) : undefined;
    this.rs = ec && this.layout ? new ReedSolomon(this.layout.d, this.layout.p) : undefined;
    const maxSeq = index.maxSeq(uid, this.version, upToId);
    if (!this.layout) {
      this.fileSize = undefined;
      this.lastSeq = maxSeq;
    } else if (metadata?.fsz !== undefined) {
      this.fileSize = metadata.fsz;
      this.lastSeq = this.layout.lastSeq(metadata.fsz);
    } else {
      // No FSZ (blkar decodes such a container without truncating): every chunk up to the last seq found
      // (when that is a parity seq, up to its set's last data chunk).
      const l = this.layout;
      const lastChunk = maxSeq === 0 ? -1 : (l.chunkIndexOfSeq(maxSeq) ?? l.setOfSeq(maxSeq) * l.d + l.d - 1);
      this.fileSize = (lastChunk + 1) * this.dataSize;
      this.lastSeq = this.layout.lastSeq(this.fileSize);
    }
  }

  /**
   * Reads the index as of `upToId` and the reference block from the cache. An EC container's burst level is the one
   * `settledBurst` gives for its key; else it is guessed (burst-level.ts), with `probe` from the blocks that follow
   * the reference block on the medium when the index holds too few, read through the cache (each sector once), as
   * blkar reads a container to guess it: with a wrong level every unseen block is looked for in the wrong place.
   */
  static async load(
    index: BlockIndex,
    cache: SectorCache,
    uid: string,
    upToId: number,
    opts: { settledBurst?: (key: string) => number | undefined; probe?: boolean } = {},
  ): Promise<RescuedContainer | undefined> {
    let ref: IndexedBlock | undefined;
    let metaBytes: Buffer | undefined;
    for (const m of index.metadataBlocks(uid, upToId)) {
      const bytes = await readBlock(cache, m);
      if (bytes) {
        ref = m;
        metaBytes = bytes;
        break;
      }
    }
    ref ??= index.firstBlock(uid, upToId);
    if (!ref) return undefined;
    const conflict = metaBytes ? await conflictingMetadata(cache, index.metadataBlocks(uid, upToId), ref, metaBytes) : undefined;
    const metadata = metaBytes ? parseMetadataPayload(metaBytes.subarray(HEADER_SIZE)) : undefined;
    let level: BurstLevel | undefined;
    if (!conflict && isEcVersion(ref.version) && metadata?.rsd !== undefined && metadata.rsp !== undefined) {
      const settled = opts.settledBurst?.(burstKey(uid, ref.version, metadata.rsd, metadata.rsp));
      const rs = { d: metadata.rsd, p: metadata.rsp, fsz: metadata.fsz };
      level = await burstLevelOf({ index, cache, uid, upToId, ref, rs, settled, probe: !!opts.probe });
    }
    return new RescuedContainer(index, cache, uid, upToId, ref, metaBytes, metadata, level, conflict);
  }

  /** Name of the decoded file in the directory (FNM made safe, else <UID>.bin); undefined when it cannot be decoded. */
  decodedName(): string | undefined {
    if (this.fileSize === undefined) return undefined;
    return safeFileName(this.metadata?.fnm, [this.containerName(), 'info.json']) ?? `${this.uid}.bin`;
  }

  containerName(): string {
    return `${this.uid}.sbx`;
  }

  // ---- the canonical container --------------------------------------------------------------------------

  /** Size of the sorted container: up to the last position written (sort never writes trailing holes). */
  sortedSize(): number {
    const l = this.layout;
    if (!l) return 0;
    let maxIndex = this.metadataBlock ? Math.max(...l.metadataIndices()) : -1;
    const maxSeq = Math.min(this.lastSeq, this.index.maxSeq(this.uid, this.version, this.upToId));
    if (maxSeq >= 1) {
      // Positions grow with seq from one super set to the next, not inside one: look at the last super set.
      const group = l.ec && l.burst > 0 ? l.setSize * l.burst : 1;
      const from = Math.floor((maxSeq - 1) / group) * group + 1;
      for (const seq of this.index.distinctSeqs(this.uid, this.version, from, maxSeq, this.upToId)) {
        maxIndex = Math.max(maxIndex, l.seqToIndex(seq));
      }
    }
    return (maxIndex + 1) * this.blockSize;
  }

  async readSorted(offset: number, length: number): Promise<Buffer> {
    const l = this.layout;
    const size = this.sortedSize();
    const end = Math.min(size, offset + length);
    if (!l || offset >= end) return Buffer.alloc(0);
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.ceil(end / bs);
    const out = Buffer.alloc((last - first) * bs);
    let minSeq = Infinity;
    let maxSeq = 0;
    for (let i = first; i < last; i++) {
      if (l.isMetadataIndex(i)) continue;
      const seq = l.indexToSeq(i);
      if (seq < minSeq) minSeq = seq;
      if (seq > maxSeq) maxSeq = seq;
    }
    const seqs: number[] = [];
    for (let i = first; i < last; i++) if (!l.isMetadataIndex(i)) seqs.push(l.indexToSeq(i));
    const blocks = maxSeq > 0 ? await this.fetch(seqs) : new Map<number, Buffer>();
    for (let i = first; i < last; i++) {
      const block = l.isMetadataIndex(i) ? this.metadataBlock : blocks.get(l.indexToSeq(i));
      block?.copy(out, (i - first) * bs);
    }
    return out.subarray(offset - first * bs, end - first * bs);
  }

  // ---- the decoded file ---------------------------------------------------------------------------------

  async readDecoded(offset: number, length: number): Promise<DecodedRead> {
    const l = this.layout;
    const size = this.fileSize;
    if (!l || size === undefined) return { data: Buffer.alloc(0), errorAt: offset };
    const end = Math.min(size, offset + length);
    if (offset >= end) return { data: Buffer.alloc(0) };
    const ds = this.dataSize;
    const c0 = Math.floor(offset / ds);
    const c1 = Math.ceil(end / ds); // exclusive
    const chunks = await this.chunks(c0, c1);
    const out = Buffer.allocUnsafe(end - offset);
    for (let c = c0; c < c1; c++) {
      const from = Math.max(offset, c * ds);
      const to = Math.min(end, (c + 1) * ds);
      const chunk = chunks.get(c);
      if (!chunk) return { data: out.subarray(0, from - offset), errorAt: from };
      chunk.copy(out, from - offset, from - c * ds, to - c * ds);
    }
    return { data: out };
  }

  /** Payloads of data chunks [c0, c1), read or rebuilt; a chunk that is neither is absent from the map. */
  private async chunks(c0: number, c1: number): Promise<Map<number, Buffer>> {
    const l = this.layout as Layout;
    const out = new Map<number, Buffer>();
    const wanted: number[] = [];
    for (let c = c0; c < c1; c++) wanted.push(l.seqOfChunk(c));
    const blocks = await this.fetch(wanted);
    for (let c = c0; c < c1; c++) {
      const b = blocks.get(l.seqOfChunk(c));
      if (b) out.set(c, b.subarray(HEADER_SIZE));
    }
    if (!l.ec || out.size === c1 - c0) return out;
    // Some chunks are missing: rebuild their block sets from whatever else those sets still have.
    const t = l.setSize;
    const d = l.d;
    const chunkCount = l.chunkCount(this.fileSize as number);
    const sets = new Set<number>();
    for (let c = c0; c < c1; c++) if (!out.has(c)) sets.add(Math.floor(c / d));
    const others: number[] = [];
    for (const s of sets) for (let k = 0; k < t; k++) if (!blocks.has(s * t + k + 1)) others.push(s * t + k + 1);
    const more = await this.fetch(others);
    for (const s of sets) {
      const shards: (Uint8Array | null)[] = [];
      for (let k = 0; k < t; k++) {
        const seq = s * t + k + 1;
        const b = blocks.get(seq) ?? more.get(seq);
        if (b) shards.push(b.subarray(HEADER_SIZE));
        else if (k < d && s * d + k >= chunkCount) shards.push(paddingPayload(this.dataSize)); // known all-0x1A padding
        else shards.push(null);
      }
      if (!(this.rs as ReedSolomon).reconstruct(shards)) continue;
      for (let k = 0; k < d; k++) {
        const c = s * d + k;
        if (c >= c0 && c < c1 && !out.has(c)) out.set(c, Buffer.from(shards[k] as Uint8Array));
      }
    }
    return out;
  }

  /** seq → medium offset of the copy that wins (the last on the medium), loaded once per model. */
  private offsetTable(): { offsets: Float64Array; duplicated: Set<number> } | undefined {
    if (this.table === undefined) {
      // A container with more seqs than the medium has blocks is not wholly on it (or its FSZ lies: one forged
      // metadata block would cost 8 bytes per claimed block, per UID): reads query the index instead.
      if (this.lastSeq > MAX_TABLE_SEQS || this.lastSeq > Math.floor(this.cache.size / this.blockSize)) return undefined;
      const offsets = new Float64Array(this.lastSeq + 1).fill(NaN);
      const duplicated = new Set<number>();
      for (const r of this.index.seqOffsets(this.uid, this.version, 1, this.lastSeq, this.upToId)) {
        if (!Number.isNaN(offsets[r.seq])) duplicated.add(r.seq);
        offsets[r.seq] = r.offset; // rows come by seq, then offset: the last copy wins
      }
      for (const b of this.probedBlocks) if (b.seq <= this.lastSeq && Number.isNaN(offsets[b.seq])) offsets[b.seq] = b.offset;
      this.table = { offsets, duplicated };
    }
    return this.table;
  }

  /**
   * Valid blocks of the given seqs (whole blocks, re-checked), keyed by seq. A seq found more than once is served
   * only when its valid copies are byte-identical (a container on the medium twice): copies that differ belong to
   * different containers of one UID (an old and a new encoding, a stale copy whose metadata block was lost), and
   * which one goes with the reference block cannot be told, so the seq is missing (and not a Reed-Solomon shard).
   */
  private async fetch(seqs: readonly number[]): Promise<Map<number, Buffer>> {
    const out = new Map<number, Buffer>();
    const inRange = seqs.filter((s) => s >= 1 && s <= this.lastSeq);
    if (inRange.length === 0) return out;
    const table = this.offsetTable();
    const single: { seq: number; offset: number }[] = [];
    const duplicated: number[] = [];
    if (table) {
      for (const seq of inRange) {
        const o = table.offsets[seq];
        if (table.duplicated.has(seq)) duplicated.push(seq);
        else if (!Number.isNaN(o)) single.push({ seq, offset: o });
      }
    } else {
      const set = new Set(inRange);
      const copies = new Map<number, number[]>();
      // Not Math.min(...inRange): one read's block sets may hold more seqs (~300,000 for 1 MiB of a v18 container
      // with D 1, P 31) than a call takes arguments (~125,000).
      const [lo, hi] = [inRange.reduce((a, b) => Math.min(a, b)), inRange.reduce((a, b) => Math.max(a, b))];
      for (const r of this.index.seqOffsets(this.uid, this.version, lo, hi, this.upToId)) {
        if (set.has(r.seq)) copies.set(r.seq, [...(copies.get(r.seq) ?? []), r.offset]);
      }
      for (const [seq, offsets] of copies) {
        if (offsets.length > 1) duplicated.push(seq);
        else single.push({ seq, offset: offsets[0] });
      }
    }
    for (const w of await this.readBlocks(single)) if (w.block) out.set(w.seq, w.block);
    for (const [seq, block] of await this.agreedCopies(duplicated)) out.set(seq, block);
    if (table) {
      const skip = (q: number) => out.has(q) || table.duplicated.has(q);
      for (const w of await this.readBlocks(this.predicted(table.offsets, inRange.filter((q) => !skip(q)), out))) if (w.block) out.set(w.seq, w.block);
    }
    return out;
  }

  /** The block of each seq whose valid copies all agree; `differing`: the seqs whose valid copies differ. */
  private async agreedCopies(seqs: readonly number[], differing?: number[]): Promise<Map<number, Buffer>> {
    const bySeq = new Map<number, Buffer | null>(); // null: copies differ
    const copies = seqs.flatMap((seq) => [...this.index.seqOffsets(this.uid, this.version, seq, seq, this.upToId)]);
    for (const { seq, block } of await this.readBlocks(copies)) {
      if (!block) continue;
      const seen = bySeq.get(seq);
      if (seen === undefined) bySeq.set(seq, block);
      else if (seen !== null && !seen.equals(block)) bySeq.set(seq, null);
    }
    const out = new Map<number, Buffer>();
    for (const [seq, block] of bySeq) {
      if (block) out.set(seq, block);
      else differing?.push(seq);
    }
    return out;
  }

  /** Seqs found more than once whose valid copies differ (never served: see fetch), ascending. */
  async disagreeingSeqs(): Promise<number[]> {
    const out: number[] = [];
    let batch: number[] = [];
    const check = async () => {
      await this.agreedCopies(batch, out);
      batch = [];
    };
    for (const seq of this.index.duplicatedSeqs(this.uid, this.version, this.lastSeq, this.upToId)) {
      batch.push(seq);
      if (batch.length >= 4096) await check();
    }
    await check();
    return out.sort((a, b) => a - b);
  }

  /** Where the seqs no block was found for must lie (block-positions.ts); read through the cache, then checked. */
  private predicted(offsets: Float64Array, seqs: readonly number[], have: Map<number, Buffer>): { seq: number; offset: number }[] {
    const src = predictionSource(this.layout, this.ref, this.blockSize, this.cache.size, offsets);
    return src ? predictSeqs(src, (this.anchors ??= anchorsOf(src)), seqs.filter((q) => !have.has(q))) : [];
  }

  /** Reads and checks blocks, coalescing neighbours on the medium into one cache read. */
  private async readBlocks(wanted: readonly { seq: number; offset: number }[]): Promise<{ seq: number; block?: Buffer }[]> {
    const byOffset = [...wanted].sort((a, b) => a.offset - b.offset);
    const bs = this.blockSize;
    const result: { seq: number; block?: Buffer }[] = [];
    const uid = Buffer.from(this.uid, 'hex');
    for (let i = 0; i < byOffset.length; ) {
      let j = i + 1;
      while (j < byOffset.length && byOffset[j].offset === byOffset[j - 1].offset + bs && byOffset[j].offset + bs - byOffset[i].offset <= MAX_FETCH) j++;
      const start = byOffset[i].offset;
      const { data } = await this.cache.read(start, byOffset[j - 1].offset + bs - start, 'foreground');
      let k = i;
      for (; k < j && byOffset[k].offset - start + bs <= data.length; k++) {
        const at = byOffset[k].offset - start;
        const b = data.subarray(at, at + bs);
        result.push({ seq: byOffset[k].seq, block: isValidBlock(b, { version: this.version, uid, seq: byOffset[k].seq }) ? b : undefined });
      }
      if (k < j) {
        // The read stopped at an unreadable sector inside block k: that block is lost, but the blocks after it
        // in the run are not, so the next read starts right after it (a known bad sector costs no device read).
        result.push({ seq: byOffset[k].seq });
        k++;
      }
      i = k;
    }
    return result;
  }

  // ---- what the medium read so far holds (info.json) ----------------------------------------------------

  /**
   * Where the medium stands on the seqs the index has not got (`indexed`: its distinct seqs, ascending), without a
   * device read: each is looked for where it must lie (block-positions.ts); a valid block in cached sectors is
   * found (a decoded read fetched it before the scan recorded it), a position with a sector not read yet is
   * untried, anything else (a bad sector, another block, outside the medium) is missing.
   */
  async unindexedSeqs(indexed: readonly number[]): Promise<{ found: number[]; untried: number[] }> {
    const table = this.offsetTable();
    const found: number[] = [];
    const untried: number[] = [];
    if (!table) return { found, untried }; // too large to predict: reads do not predict either
    const stateOf = sectorStates(this.cache);
    let i = 0; // into `indexed`
    // A window of seqs at a time: a container known by one block may have millions of seqs to look at.
    for (let from = 1; from <= this.lastSeq; from += INFO_WINDOW_SEQS) {
      const to = Math.min(this.lastSeq, from + INFO_WINDOW_SEQS - 1);
      const unindexed: number[] = [];
      for (let seq = from; seq <= to; seq++) {
        while (i < indexed.length && indexed[i] < seq) i++;
        if (indexed[i] !== seq) unindexed.push(seq);
      }
      const probed = unindexed.filter((q) => !Number.isNaN(table.offsets[q])).map((seq) => ({ seq, offset: table.offsets[seq] }));
      const cached: { seq: number; offset: number }[] = [];
      for (const w of [...probed, ...this.predicted(table.offsets, unindexed, new Map())].sort((a, b) => a.seq - b.seq)) {
        const state = stateOf(w.offset, this.blockSize);
        if (state === '+') cached.push(w);
        else if (state === 'untried') untried.push(w.seq);
      }
      found.push(...(await this.readCachedBlocks(cached)).sort((a, b) => a - b));
    }
    return { found, untried };
  }

  /** Seqs of the valid blocks at cached positions, read in runs of neighbours (readCachedBytes: never the device, no readahead). */
  private async readCachedBlocks(wanted: readonly { seq: number; offset: number }[]): Promise<number[]> {
    const byOffset = [...wanted].sort((a, b) => a.offset - b.offset);
    const bs = this.blockSize;
    const uid = Buffer.from(this.uid, 'hex');
    const found: number[] = [];
    for (let i = 0; i < byOffset.length; ) {
      let j = i + 1;
      while (j < byOffset.length && byOffset[j].offset === byOffset[j - 1].offset + bs && (j + 1 - i) * bs <= MAX_FETCH) j++;
      const data = await this.cache.readCachedBytes(byOffset[i].offset, (j - i) * bs);
      for (let k = i; k < j; k++) {
        const b = data.subarray((k - i) * bs, (k - i + 1) * bs);
        if (isValidBlock(b, { version: this.version, uid, seq: byOffset[k].seq })) found.push(byOffset[k].seq);
      }
      i = j;
    }
    return found;
  }
}

const paddings = new Map<number, Buffer>();
function paddingPayload(size: number): Buffer {
  let p = paddings.get(size);
  if (!p) paddings.set(size, (p = Buffer.alloc(size, PAD_BYTE)));
  return p;
}
