/**
 * Metadata block payload: TLV records FNM, SNM, FSZ, FDT, SDT, HSH, RSD, RSP, then 0x1A filler
 * (sbx-format.md §4). Encoding uses blkar's field order; parsing follows blkar's rules exactly:
 * stop at the first unparsable record, drop invalid fields, first occurrence wins.
 */
import { encodeMultihash, Multihash, parseMultihash } from './multihash';
import { dataSizeOf, PAD_BYTE, SbxVersion } from './specs';
import { UserError } from '../../errors';

/** The metadata fields blkar knows. Names are file-name parts; times are Unix seconds. */
export interface Metadata {
  /** Original file name (FNM). */
  fnm?: string;
  /** Container file name (SNM). */
  snm?: string;
  /** Original size in bytes (FSZ, u64; values above 2^53 lose precision — far beyond any valid container). */
  fsz?: number;
  /** Original file mtime (FDT, i64 seconds). */
  fdt?: number;
  /** Container creation time (SDT, i64 seconds). */
  sdt?: number;
  /** Hash of the encoded data (HSH). */
  hsh?: Multihash;
  /** RS data shard count D (RSD, 1 byte; EC versions only). */
  rsd?: number;
  /** RS parity shard count P (RSP, 1 byte; EC versions only). */
  rsp?: number;
}

/** One TLV record, in the order it sits in the block (used by `update`, which keeps positions). */
export type MetadataField =
  | { id: 'FNM' | 'SNM'; value: string }
  | { id: 'FSZ' | 'FDT' | 'SDT' | 'RSD' | 'RSP'; value: number }
  | { id: 'HSH'; value: Multihash };

/** The record IDs. */
export type MetadataId = MetadataField['id'];

/** Thrown by the encoders when the records do not fit in one block (blkar: "Too much metadata"). */
export class MetadataTooLargeError extends UserError {
  constructor(readonly version: SbxVersion, readonly needed: number, readonly available: number) {
    super(`Too much metadata: ${needed} bytes of metadata do not fit in the ${available}-byte payload of a version ${version} block`);
    this.name = 'MetadataTooLargeError';
  }
}

/** Metadata → records in blkar's write order FNM, SNM, FSZ, FDT, SDT, HSH, RSD, RSP (absent fields skipped). */
export function metadataToFields(meta: Metadata): MetadataField[] {
  const out: MetadataField[] = [];
  if (meta.fnm !== undefined) out.push({ id: 'FNM', value: meta.fnm });
  if (meta.snm !== undefined) out.push({ id: 'SNM', value: meta.snm });
  if (meta.fsz !== undefined) out.push({ id: 'FSZ', value: meta.fsz });
  if (meta.fdt !== undefined) out.push({ id: 'FDT', value: meta.fdt });
  if (meta.sdt !== undefined) out.push({ id: 'SDT', value: meta.sdt });
  if (meta.hsh !== undefined) out.push({ id: 'HSH', value: meta.hsh });
  if (meta.rsd !== undefined) out.push({ id: 'RSD', value: meta.rsd });
  if (meta.rsp !== undefined) out.push({ id: 'RSP', value: meta.rsp });
  return out;
}

/** Records → Metadata; for duplicate IDs the first occurrence wins (blkar). */
export function fieldsToMetadata(fields: readonly MetadataField[]): Metadata {
  const m: Metadata = {};
  for (const f of fields) {
    switch (f.id) {
      case 'FNM':
        m.fnm ??= f.value;
        break;
      case 'SNM':
        m.snm ??= f.value;
        break;
      case 'FSZ':
        m.fsz ??= f.value;
        break;
      case 'FDT':
        m.fdt ??= f.value;
        break;
      case 'SDT':
        m.sdt ??= f.value;
        break;
      case 'RSD':
        m.rsd ??= f.value;
        break;
      case 'RSP':
        m.rsp ??= f.value;
        break;
      case 'HSH':
        m.hsh ??= f.value;
        break;
    }
  }
  return m;
}

function encodeU64(value: number, signed: boolean): Buffer {
  const b = Buffer.alloc(8);
  if (!Number.isInteger(value)) throw new RangeError(`metadata integer must be an integer, got ${value}`);
  if (signed) b.writeBigInt64BE(BigInt(value));
  else b.writeBigUInt64BE(BigInt(value));
  return b;
}

function encodeFieldValue(f: MetadataField): Buffer {
  switch (f.id) {
    case 'FNM':
    case 'SNM':
      return Buffer.from(f.value, 'utf8');
    case 'FSZ':
      return encodeU64(f.value, false);
    case 'FDT':
    case 'SDT':
      return encodeU64(f.value, true);
    case 'RSD':
    case 'RSP':
      if (!Number.isInteger(f.value) || f.value < 0 || f.value > 255) throw new RangeError(`${f.id} must be 0..255`);
      return Buffer.of(f.value);
    case 'HSH':
      return encodeMultihash(f.value.type, f.value.digest);
  }
}

/**
 * Encodes records into a full payload for `version` (data size bytes, 0x1A filled).
 * Throws MetadataTooLargeError when they do not fit, and RangeError for a value longer than 255 bytes.
 */
export function encodeMetadataFields(fields: readonly MetadataField[], version: SbxVersion): Buffer {
  const ds = dataSizeOf(version);
  const parts: Buffer[] = [];
  for (const f of fields) {
    const v = encodeFieldValue(f);
    if (v.length > 255) throw new RangeError(`${f.id} value of ${v.length} bytes exceeds 255`);
    parts.push(Buffer.from(f.id, 'ascii'), Buffer.of(v.length), v);
  }
  const body = Buffer.concat(parts);
  if (body.length > ds) throw new MetadataTooLargeError(version, body.length, ds);
  const payload = Buffer.alloc(ds, PAD_BYTE);
  body.copy(payload);
  return payload;
}

/** Encodes Metadata (blkar's field order) into a full payload for `version`; throws MetadataTooLargeError. */
export function encodeMetadataPayload(meta: Metadata, version: SbxVersion): Buffer {
  return encodeMetadataFields(metadataToFields(meta), version);
}

// ignoreBOM: a name starting with U+FEFF keeps it (blkar's String::from_utf8 keeps every byte).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Records that survive parsing before filtering; names keep raw bytes so invalid UTF-8 can be dropped after, and
 * FSZ its exact u64 (a double rounds it above 2^53).
 */
type RawField = MetadataField | { id: 'FNM' | 'SNM'; raw: Uint8Array } | { id: 'FSZ'; exact: bigint };

function parseOne(payload: Uint8Array, pos: number): { field: RawField; next: number } | null {
  if (pos + 4 > payload.length) return null;
  const id = String.fromCharCode(payload[pos], payload[pos + 1], payload[pos + 2]);
  const len = payload[pos + 3];
  const start = pos + 4;
  const end = start + len;
  if (end > payload.length) return null;
  const value = payload.subarray(start, end);
  const view = Buffer.from(value.buffer, value.byteOffset, value.length);
  switch (id) {
    case 'FNM':
    case 'SNM':
      if (len === 0) return null;
      return { field: { id, raw: value }, next: end };
    case 'FSZ':
      if (len !== 8) return null;
      return { field: { id, exact: view.readBigUInt64BE(0) }, next: end };
    case 'FDT':
    case 'SDT':
      if (len !== 8) return null;
      return { field: { id, value: Number(view.readBigInt64BE(0)) }, next: end };
    case 'RSD':
    case 'RSP':
      if (len !== 1) return null;
      return { field: { id, value: value[0] }, next: end };
    case 'HSH': {
      const mh = parseMultihash(value);
      if (!mh) return null;
      return { field: { id, value: mh }, next: end };
    }
    default:
      return null; // unknown ID (PID, 0x1A filler, garbage) ends parsing
  }
}

/**
 * Parses a metadata payload with blkar's rules: records from the start until the first one that
 * cannot be parsed (unknown ID, wrong fixed length, empty FNM/SNM, unrecognised multihash, truncated);
 * then drops FNM/SNM that are not valid UTF-8, RSD/RSP equal to 0, and all RSD/RSP when the first
 * RSD + first RSP > 256. Padding is optional. Returns every surviving record in block order.
 */
export function parseMetadataFields(payload: Uint8Array): MetadataField[] {
  const fields: MetadataField[] = [];
  for (const f of rawFields(payload)) {
    if ('exact' in f) {
      fields.push({ id: f.id, value: Number(f.exact) });
    } else if ('raw' in f) {
      const s = decodeUtf8(f.raw);
      if (s !== null) fields.push({ id: f.id, value: s });
    } else if ((f.id === 'RSD' || f.id === 'RSP') && f.value === 0) {
      continue;
    } else {
      fields.push(f);
    }
  }
  const rsd = fields.find((f) => f.id === 'RSD');
  const rsp = fields.find((f) => f.id === 'RSP');
  if (rsd && rsp && (rsd.value as number) + (rsp.value as number) > 256) {
    return fields.filter((f) => f.id !== 'RSD' && f.id !== 'RSP');
  }
  return fields;
}

function rawFields(payload: Uint8Array): RawField[] {
  const raw: RawField[] = [];
  for (let r = parseOne(payload, 0); r; r = parseOne(payload, r.next)) raw.push(r.field);
  return raw;
}

/** The FSZ parsing would give (first occurrence), exactly: Metadata.fsz is a double. For display (`show`). */
export function exactFileSize(payload: Uint8Array): bigint | undefined {
  for (const f of rawFields(payload)) if ('exact' in f) return f.exact;
  return undefined;
}

/** Parses a metadata payload (blkar's rules, first occurrence wins) into Metadata. */
export function parseMetadataPayload(payload: Uint8Array): Metadata {
  return fieldsToMetadata(parseMetadataFields(payload));
}
