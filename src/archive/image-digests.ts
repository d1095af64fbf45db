// The four hashes redump and No-Intro DAT files list for a medium image (CRC-32, MD5, SHA-1, SHA-256), fed once
// with the image's bytes in order. Unreadable sectors go in as zeros, as /sbx/image.sbx and `blkfs export` carry
// them, so the digests describe exactly the image those produce.
import { createHash, Hash } from 'crypto';
import { crc32 } from '../cache/crc32';

export interface ImageDigestValues {
  /** Lowercase hex; CRC-32 as 8 digits (zlib's / DAT files' CRC-32). */
  crc32: string;
  md5: string;
  sha1: string;
  sha256: string;
}

const ZEROS = Buffer.alloc(1 << 20);

export class ImageDigests {
  private crc = 0;
  private readonly hashes: Record<'md5' | 'sha1' | 'sha256', Hash> = {
    md5: createHash('md5'),
    sha1: createHash('sha1'),
    sha256: createHash('sha256'),
  };
  /** Bytes fed so far. */
  bytes = 0;

  update(chunk: Uint8Array): void {
    this.crc = crc32(chunk, this.crc);
    this.hashes.md5.update(chunk);
    this.hashes.sha1.update(chunk);
    this.hashes.sha256.update(chunk);
    this.bytes += chunk.length;
  }

  /** `n` zero bytes (an unreadable stretch of the image). */
  zeros(n: number): void {
    for (let left = n; left > 0; left -= ZEROS.length) this.update(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
  }

  /** Ends the hashes; the object cannot be fed afterwards. */
  digest(): ImageDigestValues {
    return {
      crc32: (this.crc >>> 0).toString(16).padStart(8, '0'),
      md5: this.hashes.md5.digest('hex'),
      sha1: this.hashes.sha1.digest('hex'),
      sha256: this.hashes.sha256.digest('hex'),
    };
  }
}
