// CRC-32 (IEEE 802.3, the same numbers as zlib.crc32) of the cache's fixity and of the image digests. Every byte
// read from the device is checksummed on the event loop, so its speed is the reader's: @node-rs/crc32's prebuilt
// binary uses the CPU's carry-less multiply (PCLMULQDQ, PMULL) at ~12 GB/s here, zlib.crc32 ~4.5 GB/s (0.12 s of
// event loop per 512 MiB). Where that binary does not load (a platform without one), zlib's is used.
import * as zlib from 'zlib';

/** CRC-32 of `data`, continuing from `value` (0 to start). Unsigned. */
export type Crc32 = (data: Uint8Array, value?: number) => number;

function load(): { crc32: Crc32; name: string } {
  try {
    const native = (require('@node-rs/crc32') as { crc32: (data: Uint8Array, value?: number) => number }).crc32;
    return { crc32: (data, value = 0) => native(data, value) >>> 0, name: '@node-rs/crc32' };
  } catch {
    return { crc32: (data, value = 0) => zlib.crc32(data, value) >>> 0, name: 'zlib' };
  }
}

const loaded = load();
export const crc32: Crc32 = loaded.crc32;
/** Which implementation crc32 is (shown by tests and benches). */
export const CRC32_IMPLEMENTATION = loaded.name;
