/**
 * CRC-16 as SBX uses it (sbx-format.md §2.1): CRC-16/XMODEM (poly 0x1021, MSB-first, no reflection,
 * no final XOR) but with the initial register set to the container VERSION number.
 */

/** TABLE[i] = MSB-first CRC of (i << 8) with poly 0x1021 (libcrc crcccitt.c). */
export const CRC16_TABLE: Uint16Array = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let b = 0; b < 8; b++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/**
 * Slicing-by-8 tables: SLICE[k·256 + x] = CRC (from register 0) of byte x followed by k zero bytes.
 * CRC is linear, so 8 input bytes fold into 8 independent lookups (the register only affects the
 * first two bytes), which is ~3x faster in V8 than the byte-serial loop.
 */
const SLICE: Uint16Array = (() => {
  const t = new Uint16Array(8 * 256);
  t.set(CRC16_TABLE);
  for (let k = 1; k < 8; k++) {
    for (let x = 0; x < 256; x++) {
      const prev = t[(k - 1) * 256 + x];
      t[k * 256 + x] = ((prev << 8) & 0xffff) ^ CRC16_TABLE[prev >> 8];
    }
  }
  return t;
})();

/**
 * CRC-16/XMODEM of bytes[start, end) starting from register `init`. For an SBX block use
 * `crc16(block, version, 6, blockSize)`; Python's binascii.crc_hqx(data, init) is the same function.
 */
export function crc16(bytes: Uint8Array, init: number, start = 0, end = bytes.length): number {
  const table = CRC16_TABLE;
  const s = SLICE;
  let crc = init & 0xffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    crc =
      s[7 * 256 + ((crc >> 8) ^ bytes[i])] ^
      s[6 * 256 + ((crc & 0xff) ^ bytes[i + 1])] ^
      s[5 * 256 + bytes[i + 2]] ^
      s[4 * 256 + bytes[i + 3]] ^
      s[3 * 256 + bytes[i + 4]] ^
      s[2 * 256 + bytes[i + 5]] ^
      s[256 + bytes[i + 6]] ^
      s[bytes[i + 7]];
  }
  for (; i < end; i++) crc = ((crc << 8) & 0xffff) ^ table[(crc >> 8) ^ bytes[i]];
  return crc;
}
