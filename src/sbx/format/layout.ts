/**
 * Container geometry (sbx-format.md §6, §7.3–7.5, §10.3): sequence number ⇄ block index for any
 * version, D, P and burst level B; metadata copy positions; container size (holes included); calc.
 * All arithmetic uses JS numbers (exact below 2^53, far above any container blkar can describe).
 */
import { blockSizeOf, dataSizeOf, isEcVersion, MAX_SEQ, SbxVersion } from './specs';
import { UserError } from '../../errors';

/** Parameters that fix a container's layout. d/p/burst are ignored for versions 1–3. */
export interface LayoutParams {
  version: SbxVersion;
  /** RS data shards D (EC versions; 1 ≤ D, D + P ≤ 256). */
  d?: number;
  /** RS parity shards P (EC versions; P ≥ 1). */
  p?: number;
  /** Burst error resistance level B (EC versions; default 0). */
  burst?: number;
  /** Metadata block present (versions 1–3; forced on for 17–19). Default true. */
  metaEnabled?: boolean;
}

/** What a container position holds. 'hole' = never-written zeros inside the container; 'outside' = past its end. */
export type BlockKind = 'metadata' | 'data' | 'padding' | 'parity' | 'hole' | 'outside';

/** blkar's calc figures (§10.3). */
export interface CalcResult {
  version: SbxVersion;
  blockSize: number;
  dataSize: number;
  metadataBlockCount: number;
  /** Data blocks including the last set's all-0x1A padding blocks. */
  dataOnlyBlockCount: number;
  dataParityBlockCount: number;
  /** Metadata + data + parity blocks, not counting burst holes. */
  totalBlockCount: number;
  /** null for versions 1–3. */
  rsDataShardCount: number | null;
  rsParityShardCount: number | null;
  burstErrorResistanceLevel: number | null;
  fileSize: number;
  /** Bytes on disk including holes. */
  containerSize: number;
}

/** Thrown for impossible layout parameters (bad D/P/B). */
export class LayoutParamError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'LayoutParamError';
  }
}

/** The geometry of one container. Immutable. */
export class Layout {
  readonly version: SbxVersion;
  readonly blockSize: number;
  readonly dataSize: number;
  /** Reed-Solomon version (17–19). */
  readonly ec: boolean;
  /** D (0 for versions 1–3). */
  readonly d: number;
  /** P (0 for versions 1–3). */
  readonly p: number;
  /** B (0 for versions 1–3). */
  readonly burst: number;
  readonly metaEnabled: boolean;
  /** Number of metadata blocks: 1 + P (EC), 1 or 0 (SBX). */
  readonly metaCount: number;
  /** Blocks per block set T = D + P (1 for versions 1–3). */
  readonly setSize: number;

  constructor(params: LayoutParams) {
    this.version = params.version;
    this.blockSize = blockSizeOf(params.version);
    this.dataSize = dataSizeOf(params.version);
    this.ec = isEcVersion(params.version);
    if (this.ec) {
      const d = params.d ?? NaN;
      const p = params.p ?? NaN;
      const b = params.burst ?? 0;
      if (!Number.isInteger(d) || d < 1) throw new LayoutParamError(`RS data shard count must be an integer ≥ 1, got ${params.d}`);
      if (!Number.isInteger(p) || p < 1) throw new LayoutParamError(`RS parity shard count must be an integer ≥ 1, got ${params.p}`);
      if (d + p > 256) throw new LayoutParamError(`RS data + parity shard count must be ≤ 256, got ${d + p}`);
      if (!Number.isInteger(b) || b < 0) throw new LayoutParamError(`burst error resistance level must be an integer ≥ 0, got ${params.burst}`);
      this.d = d;
      this.p = p;
      this.burst = b;
      this.metaEnabled = true;
      this.metaCount = 1 + p;
      this.setSize = d + p;
    } else {
      this.d = 0;
      this.p = 0;
      this.burst = 0;
      this.metaEnabled = params.metaEnabled ?? true;
      this.metaCount = this.metaEnabled ? 1 : 0;
      this.setSize = 1;
    }
  }

  /** Block index (position / blockSize) of a sequence number. Seq 0 → 0 (the first metadata copy). */
  seqToIndex(seq: number): number {
    if (!this.ec) {
      if (this.metaEnabled) return seq;
      if (seq === 0) throw new RangeError('container has no metadata block');
      return seq - 1;
    }
    if (seq === 0) return 0;
    const i = seq - 1;
    const { p, burst: b, setSize: t } = this;
    if (b === 0) return 1 + p + i;
    const s = t * b;
    const k = Math.floor(i / s);
    const r = i - k * s;
    const row = Math.floor(r / t);
    const col = r - row * t;
    const meta = k === 0 ? 1 + Math.min(col, p) : 1 + p;
    return meta + k * s + col * b + row;
  }

  /** A block index no block of sequence number ≥ seq ≥ 1 lies before: interleaving shuffles seqs only within a burst group. */
  lowestIndexFrom(seq: number): number {
    if (!this.ec || this.burst === 0) return this.seqToIndex(seq);
    return 1 + Math.floor((seq - 1) / (this.setSize * this.burst)) * this.setSize * this.burst;
  }

  /** Sequence number expected at a block index (0 at every metadata copy); blkar's inverse mapping. */
  indexToSeq(index: number): number {
    if (!this.ec) return this.metaEnabled ? index : index + 1;
    const { p, burst: b, setSize: t } = this;
    if (b === 0) return index < 1 + p ? 0 : index - (1 + p) + 1;
    const metaZone = (1 + p) * (1 + b);
    if (index < metaZone && index % (1 + b) === 0) return 0;
    const m = index < metaZone ? 1 + Math.floor(index / (1 + b)) : 1 + p;
    const y = index - m;
    const s = t * b;
    const k = Math.floor(y / s);
    const r = y - k * s;
    const col = Math.floor(r / b);
    const row = r - col * b;
    return k * s + row * t + col + 1;
  }

  /** Block indices of all metadata copies: [0] (SBX), [] (no meta), 0 and j·(1+B) for j=1..P (EC). */
  metadataIndices(): number[] {
    if (!this.ec) return this.metaEnabled ? [0] : [];
    const out = [0];
    for (let j = 1; j <= this.p; j++) out.push(this.burst === 0 ? j : j * (1 + this.burst));
    return out;
  }

  /** True for an index that holds a metadata copy. */
  isMetadataIndex(index: number): boolean {
    if (!this.ec) return this.metaEnabled && index === 0;
    if (this.burst === 0) return index >= 0 && index <= this.p;
    return index >= 0 && index <= this.p * (1 + this.burst) && index % (1 + this.burst) === 0;
  }

  /** True for parity seqs: seq ≥ 1 and (seq − 1) mod T ≥ D (EC only). */
  isParitySeq(seq: number): boolean {
    return this.ec && seq >= 1 && (seq - 1) % this.setSize >= this.d;
  }

  /** Block set number (0-based) of a seq ≥ 1. */
  setOfSeq(seq: number): number {
    return Math.floor((seq - 1) / this.setSize);
  }

  /** 0-based data chunk index carried by a non-parity seq ≥ 1, or null for metadata / parity. */
  chunkIndexOfSeq(seq: number): number | null {
    if (seq < 1) return null;
    if (!this.ec) return seq - 1;
    const i = seq - 1;
    const set = Math.floor(i / this.setSize);
    const pos = i - set * this.setSize;
    return pos < this.d ? set * this.d + pos : null;
  }

  /** Seq carrying data chunk k (0-based). */
  seqOfChunk(k: number): number {
    if (!this.ec) return k + 1;
    const set = Math.floor(k / this.d);
    return set * this.setSize + (k - set * this.d) + 1;
  }

  /** Number of data chunks: ceil(fileSize / dataSize). */
  chunkCount(fileSize: number): number {
    return Math.ceil(fileSize / this.dataSize);
  }

  /** Number of block sets (EC), or of data blocks (SBX). */
  setCount(fileSize: number): number {
    return this.ec ? Math.ceil(this.chunkCount(fileSize) / this.d) : this.chunkCount(fileSize);
  }

  /** Last seq written for a file of this size (padding and parity included); 0 when no data. */
  lastSeq(fileSize: number): number {
    return this.setCount(fileSize) * this.setSize;
  }

  /** Container length in blocks, burst holes included (§7.5). */
  containerBlockCount(fileSize: number): number {
    const sets = this.setCount(fileSize);
    if (!this.ec) return this.metaCount + sets;
    const { p, burst: b, setSize: t } = this;
    if (b === 0) return 1 + p + sets * t;
    if (sets === 0) return p * (1 + b) + 1;
    // The largest index belongs to the last lane (col T−1) of the last super set: with n of its B
    // sets used, that is 1 + P + k·S + (T−1)·B + (n − 1).
    const k = Math.floor((sets - 1) / b);
    const n = sets - k * b;
    return 1 + p + k * t * b + (t - 1) * b + n;
  }

  /** Container size in bytes, holes included (what blkar's calc and encode report). */
  containerSize(fileSize: number): number {
    return this.containerBlockCount(fileSize) * this.blockSize;
  }

  /** What the block at `index` holds in a container of a file of `fileSize` bytes. */
  kindOfIndex(index: number, fileSize: number): BlockKind {
    if (index < 0 || index >= this.containerBlockCount(fileSize)) return 'outside';
    if (this.isMetadataIndex(index)) return 'metadata';
    const seq = this.indexToSeq(index);
    if (seq > this.lastSeq(fileSize)) return 'hole';
    if (this.isParitySeq(seq)) return 'parity';
    const chunk = this.chunkIndexOfSeq(seq) as number;
    return chunk < this.chunkCount(fileSize) ? 'data' : 'padding';
  }

  /** Largest input this layout can hold (seq numbers are u32). */
  maxFileSize(): number {
    if (!this.ec) return MAX_SEQ * this.dataSize;
    return Math.floor(MAX_SEQ / this.setSize) * this.d * this.dataSize;
  }

  /** blkar's calc figures for a file of this size. */
  calc(fileSize: number): CalcResult {
    const sets = this.setCount(fileSize);
    const dataOnly = this.ec ? sets * this.d : sets;
    const parity = this.ec ? sets * this.p : 0;
    return {
      version: this.version,
      blockSize: this.blockSize,
      dataSize: this.dataSize,
      metadataBlockCount: this.metaCount,
      dataOnlyBlockCount: dataOnly,
      dataParityBlockCount: parity,
      totalBlockCount: this.metaCount + dataOnly + parity,
      rsDataShardCount: this.ec ? this.d : null,
      rsParityShardCount: this.ec ? this.p : null,
      burstErrorResistanceLevel: this.ec ? this.burst : null,
      fileSize,
      containerSize: this.containerSize(fileSize),
    };
  }
}
