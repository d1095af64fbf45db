/**
 * Hash functions and blkar's multihash bytes for the HSH metadata field (sbx-format.md §4.3).
 * Note: blkar writes BLAKE2 function codes as two raw bytes (B2 20 …), not as unsigned varints.
 */
import type { Hash } from 'crypto';

/** Hash types blkar can produce and verify (the CLI spelling). */
export type HashType = 'sha1' | 'sha256' | 'sha512' | 'blake2b-256' | 'blake2b-512' | 'blake2s-128' | 'blake2s-256';

/** Everything blkar's multihash parser recognises: also SHA2-512-256, which it can neither produce nor verify. */
export type MultihashType = HashType | 'sha2-512-256';

/** A parsed HSH value. */
export interface Multihash {
  type: MultihashType;
  digest: Buffer;
}

/** The supported hash types, in blkar's order. */
export const HASH_TYPES: readonly HashType[] = ['sha1', 'sha256', 'sha512', 'blake2b-256', 'blake2b-512', 'blake2s-128', 'blake2s-256'];

/** blkar's default hash type. */
export const DEFAULT_HASH_TYPE: HashType = 'sha256';

interface HashParam {
  code: readonly number[];
  digestLength: number;
  label: string;
}

const PARAMS: Record<MultihashType, HashParam> = {
  sha1: { code: [0x11], digestLength: 20, label: 'SHA1' },
  sha256: { code: [0x12], digestLength: 32, label: 'SHA256' },
  'sha2-512-256': { code: [0x13], digestLength: 32, label: 'SHA2-512-256' },
  sha512: { code: [0x13], digestLength: 64, label: 'SHA512' },
  'blake2b-256': { code: [0xb2, 0x20], digestLength: 32, label: 'BLAKE2b-256' },
  'blake2b-512': { code: [0xb2, 0x40], digestLength: 64, label: 'BLAKE2b-512' },
  'blake2s-128': { code: [0xb2, 0x50], digestLength: 16, label: 'BLAKE2s-128' },
  'blake2s-256': { code: [0xb2, 0x60], digestLength: 32, label: 'BLAKE2s-256' },
};

/** Parser order of blkar's alt! (first match wins). */
const PARSE_ORDER: readonly MultihashType[] = [
  'sha1',
  'sha256',
  'sha2-512-256',
  'sha512',
  'blake2b-256',
  'blake2b-512',
  'blake2s-128',
  'blake2s-256',
];

/**
 * CLI name → hash type, case-insensitive, with blkar's aliases (sha2-256, sha2-512-512).
 * Returns null for unknown names and for sha2-512-256 (recognised by blkar but unsupported).
 */
export function parseHashTypeName(name: string): HashType | null {
  const n = name.toLowerCase();
  if (n === 'sha2-256') return 'sha256';
  if (n === 'sha2-512-512') return 'sha512';
  return (HASH_TYPES as readonly string[]).includes(n) ? (n as HashType) : null;
}

/** True if blkar can compute this hash type (everything but sha2-512-256). */
export function isSupportedHashType(t: MultihashType): t is HashType {
  return t !== 'sha2-512-256';
}

/** Digest length in bytes. */
export function digestLengthOf(t: MultihashType): number {
  return PARAMS[t].digestLength;
}

/** blkar's display label: "SHA1", "SHA256", "SHA512", "BLAKE2b-256", …, "SHA2-512-256". */
export function hashLabel(t: MultihashType): string {
  return PARAMS[t].label;
}

/** blkar's "Hash" stat text: "<label> - <lowercase hex>", e.g. "SHA256 - 2459e6…". */
export function formatMultihash(h: Multihash): string {
  return `${hashLabel(h.type)} - ${h.digest.toString('hex')}`;
}

/** An incremental hash. */
export interface Hasher {
  readonly type: HashType;
  update(data: Uint8Array): void;
  digest(): Buffer;
}

class NodeHasher implements Hasher {
  private readonly h: Hash;
  constructor(readonly type: HashType, algorithm: string) {
    // Loaded on first use: initialising Node's crypto costs ~10 ms that `calc`, `show` … never need.
    this.h = (require('crypto') as typeof import('crypto')).createHash(algorithm);
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Buffer {
    return this.h.digest();
  }
}

interface NobleHash {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}

class NobleHasher implements Hasher {
  constructor(readonly type: HashType, private readonly h: NobleHash) {}
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Buffer {
    return Buffer.from(this.h.digest());
  }
}

/**
 * Creates an incremental hasher. SHA-* and full-length BLAKE2 use Node's OpenSSL; BLAKE2b-256 and
 * BLAKE2s-128 (BLAKE2 with a shorter output *parameter*, not a truncation) use @noble/hashes.
 */
export function createHasher(type: HashType): Hasher {
  switch (type) {
    case 'sha1':
      return new NodeHasher(type, 'sha1');
    case 'sha256':
      return new NodeHasher(type, 'sha256');
    case 'sha512':
      return new NodeHasher(type, 'sha512');
    case 'blake2b-512':
      return new NodeHasher(type, 'blake2b512');
    case 'blake2s-256':
      return new NodeHasher(type, 'blake2s256');
    // Loaded on first use: @noble/hashes costs ~40 ms of start-up for every `blkfs` run otherwise.
    case 'blake2b-256':
      return new NobleHasher(type, (require('@noble/hashes/blake2b') as typeof import('@noble/hashes/blake2b')).blake2b.create({ dkLen: 32 }));
    case 'blake2s-128':
      return new NobleHasher(type, (require('@noble/hashes/blake2s') as typeof import('@noble/hashes/blake2s')).blake2s.create({ dkLen: 16 }));
  }
}

/** Digest of the whole of `data` in one call. */
export function hashBytes(type: HashType, data: Uint8Array): Buffer {
  const h = createHasher(type);
  h.update(data);
  return h.digest();
}

/** Multihash bytes as blkar stores them in HSH (without the TLV length byte): code, digest length, digest. */
export function encodeMultihash(type: MultihashType, digest: Uint8Array): Buffer {
  const p = PARAMS[type];
  if (digest.length !== p.digestLength) throw new RangeError(`${p.label} digest must be ${p.digestLength} bytes, got ${digest.length}`);
  return Buffer.concat([Buffer.from(p.code), Buffer.of(p.digestLength), digest]);
}

/** Total multihash length (the HSH TLV length byte) for a type. */
export function multihashLengthOf(type: MultihashType): number {
  const p = PARAMS[type];
  return p.code.length + 1 + p.digestLength;
}

/**
 * Parses a multihash value exactly as blkar does: the bytes must be precisely one of the table's
 * rows (code, digest length, digest, nothing more). Returns null otherwise.
 */
export function parseMultihash(bytes: Uint8Array): Multihash | null {
  for (const t of PARSE_ORDER) {
    const p = PARAMS[t];
    const total = p.code.length + 1 + p.digestLength;
    if (bytes.length !== total) continue;
    if (!p.code.every((c, i) => bytes[i] === c)) continue;
    if (bytes[p.code.length] !== p.digestLength) continue;
    return { type: t, digest: Buffer.from(bytes.subarray(p.code.length + 1)) };
  }
  return null;
}
