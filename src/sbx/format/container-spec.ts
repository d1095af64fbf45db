/**
 * Everything that fixes a container's bytes: layout (version, D, P, B, meta flag), UID, size of
 * the encoded data and the metadata to store. The random-access core and the encoder take this.
 */
import { buildBlock } from './header';
import { Layout, LayoutParams } from './layout';
import { encodeMetadataPayload, Metadata } from './metadata';
import { Multihash } from './multihash';
import { UID_LENGTH } from './specs';
import { UserError } from '../../errors';

/** Input of makeContainerSpec. */
export interface ContainerSpecParams extends LayoutParams {
  /** 6-byte file UID. */
  uid: Uint8Array;
  /** Number of source bytes the container carries (FSZ). */
  fileSize: number;
  /** Metadata to store (ignored without a metadata block). Caller computes the hash; see standardMetadata. */
  metadata: Metadata | null;
}

/** A resolved, validated container description. */
export interface ContainerSpec {
  readonly layout: Layout;
  readonly uid: Buffer;
  readonly fileSize: number;
  /** null when the layout has no metadata block (versions 1–3 with --no-meta). */
  readonly metadata: Metadata | null;
  /** The metadata block (seq 0) exactly as every copy is written, or null. */
  readonly metadataBlock: Buffer | null;
}

/** Thrown when the data does not fit the layout's u32 sequence numbers. */
export class FileTooLargeError extends UserError {
  constructor(readonly size: number, readonly max: number) {
    super(`File size exceeds the maximum supported file size, size : ${size}, max : ${max}`);
    this.name = 'FileTooLargeError';
  }
}

/**
 * Validates and freezes a container description. Throws LayoutParamError (bad D/P/B),
 * MetadataTooLargeError ("Too much metadata"), FileTooLargeError, or RangeError (bad UID / size /
 * missing metadata for a layout that has a metadata block).
 */
export function makeContainerSpec(params: ContainerSpecParams): ContainerSpec {
  const layout = new Layout(params);
  if (params.uid.length !== UID_LENGTH) throw new RangeError(`UID must be ${UID_LENGTH} bytes`);
  if (!Number.isSafeInteger(params.fileSize) || params.fileSize < 0) throw new RangeError(`bad file size ${params.fileSize}`);
  if (params.fileSize > layout.maxFileSize()) throw new FileTooLargeError(params.fileSize, layout.maxFileSize());
  const uid = Buffer.from(params.uid);
  let metadata: Metadata | null = null;
  let metadataBlock: Buffer | null = null;
  if (layout.metaEnabled) {
    if (!params.metadata) throw new RangeError('this layout has a metadata block: metadata is required');
    metadata = { ...params.metadata };
    metadataBlock = buildBlock(layout.version, uid, 0, encodeMetadataPayload(metadata, layout.version));
  }
  return Object.freeze({ layout, uid, fileSize: params.fileSize, metadata, metadataBlock });
}

/** Inputs of the metadata blkar's encoder writes. */
export interface StandardMetadataInput {
  /** FNM: file-name part of the input (absent for stdin). */
  fnm?: string;
  /** SNM: file-name part of the container path. */
  snm?: string;
  /** FSZ: bytes encoded (absent only in blkar's stdin placeholder). */
  fsz?: number;
  /** FDT: input mtime in whole seconds (absent for stdin or mtime before 1970). */
  fdt?: number;
  /** SDT: encoding start time in whole seconds. */
  sdt: number;
  /** HSH: hash of the encoded bytes. */
  hsh: Multihash;
}

/** The metadata blkar writes for this layout: FNM, SNM, FSZ, FDT, SDT, HSH and, for EC, RSD/RSP. */
export function standardMetadata(layout: Layout, input: StandardMetadataInput): Metadata {
  const m: Metadata = {};
  if (input.fnm !== undefined) m.fnm = input.fnm;
  if (input.snm !== undefined) m.snm = input.snm;
  if (input.fsz !== undefined) m.fsz = input.fsz;
  if (input.fdt !== undefined) m.fdt = input.fdt;
  m.sdt = input.sdt;
  m.hsh = input.hsh;
  if (layout.ec) {
    m.rsd = layout.d;
    m.rsp = layout.p;
  }
  return m;
}
