/**
 * Block header parse/build and block validity (sbx-format.md §2). Pure functions over byte arrays.
 */
import { crc16 } from './crc';
import { blockSizeOf, dataSizeOf, HEADER_SIZE, isSbxVersion, PAD_BYTE, SbxVersion, UID_LENGTH } from './specs';

/** The parsed 16-byte header of a block. */
export interface BlockHeader {
  version: SbxVersion;
  /** 6-byte file UID (a copy, safe to keep). */
  uid: Buffer;
  /** Sequence number: 0 = metadata, ≥ 1 data / padding / parity. */
  seq: number;
  /** CRC stored in the header (not verified by parseHeader). */
  crc: number;
}

/** What a block must match besides its CRC (blkar checks version/UID against the reference block). */
export interface BlockExpectation {
  version?: SbxVersion;
  uid?: Uint8Array;
  seq?: number;
}

/**
 * Parses the header at buf[offset, offset+16): returns null unless the signature is "SBx" and the
 * version byte is one of the six. Does not check the CRC (needs the whole block: see isValidBlock).
 */
export function parseHeader(buf: Uint8Array, offset = 0): BlockHeader | null {
  if (buf.length - offset < HEADER_SIZE) return null;
  if (buf[offset] !== 0x53 || buf[offset + 1] !== 0x42 || buf[offset + 2] !== 0x78) return null;
  const v = buf[offset + 3];
  if (!isSbxVersion(v)) return null;
  return {
    version: v,
    uid: Buffer.from(buf.subarray(offset + 6, offset + 12)),
    crc: (buf[offset + 4] << 8) | buf[offset + 5],
    seq: ((buf[offset + 12] << 24) | (buf[offset + 13] << 16) | (buf[offset + 14] << 8) | buf[offset + 15]) >>> 0,
  };
}

/** CRC of the block at buf[offset, offset+blockSize) as it should be stored (covers bytes 6 .. end). */
export function computeBlockCrc(buf: Uint8Array, version: SbxVersion, offset = 0): number {
  return crc16(buf, version, offset + 6, offset + blockSizeOf(version));
}

/**
 * Writes signature, version, UID and seq into buf at `offset`, then the CRC over the block's bytes
 * 6 .. blockSize (so the payload must already be in place at offset+16).
 */
export function writeHeader(buf: Uint8Array, offset: number, version: SbxVersion, uid: Uint8Array, seq: number): void {
  buf[offset] = 0x53;
  buf[offset + 1] = 0x42;
  buf[offset + 2] = 0x78;
  buf[offset + 3] = version;
  buf.set(uid.subarray(0, UID_LENGTH), offset + 6);
  buf[offset + 12] = (seq >>> 24) & 0xff;
  buf[offset + 13] = (seq >>> 16) & 0xff;
  buf[offset + 14] = (seq >>> 8) & 0xff;
  buf[offset + 15] = seq & 0xff;
  const crc = computeBlockCrc(buf, version, offset);
  buf[offset + 4] = crc >> 8;
  buf[offset + 5] = crc & 0xff;
}

/**
 * Builds one whole block. A payload shorter than the data size is filled with 0x1A (blkar's filler);
 * a longer one is an error.
 */
export function buildBlock(version: SbxVersion, uid: Uint8Array, seq: number, payload: Uint8Array): Buffer {
  const ds = dataSizeOf(version);
  if (payload.length > ds) throw new RangeError(`payload of ${payload.length} bytes exceeds data size ${ds}`);
  if (uid.length !== UID_LENGTH) throw new RangeError(`UID must be ${UID_LENGTH} bytes`);
  const block = Buffer.alloc(blockSizeOf(version), PAD_BYTE);
  block.set(payload, HEADER_SIZE);
  writeHeader(block, 0, version, uid, seq);
  return block;
}

/**
 * True iff buf[offset...] holds a whole valid block: header parses, enough bytes for its version's
 * block size, CRC matches, and version / UID / seq equal `expect` where given.
 */
export function isValidBlock(buf: Uint8Array, expect?: BlockExpectation, offset = 0): boolean {
  const h = parseHeader(buf, offset);
  if (!h) return false;
  if (expect?.version !== undefined && h.version !== expect.version) return false;
  if (expect?.uid !== undefined && !Buffer.from(expect.uid).equals(h.uid)) return false;
  if (expect?.seq !== undefined && h.seq !== expect.seq) return false;
  if (buf.length - offset < blockSizeOf(h.version)) return false;
  return computeBlockCrc(buf, h.version, offset) === h.crc;
}

/** True iff every byte of buf[offset, offset+length) is zero ("blank" block: a burst hole, not damage). */
export function isBlankBlock(buf: Uint8Array, offset = 0, length = buf.length - offset): boolean {
  for (let i = offset; i < offset + length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** Formats a UID as blkar prints it: 12 uppercase hex digits. */
export function uidToHex(uid: Uint8Array): string {
  return Buffer.from(uid).toString('hex').toUpperCase();
}

/** Parses exactly 12 hex digits into a 6-byte UID (blkar's --uid rule), or returns null. */
export function parseUidHex(text: string): Buffer | null {
  if (!/^[0-9a-fA-F]{12}$/.test(text)) return null;
  return Buffer.from(text, 'hex');
}
