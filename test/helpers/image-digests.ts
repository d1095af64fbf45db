// The four digests of an image as ImageDigests reports them, computed directly (the tests' reference).
import { createHash } from 'crypto';
import { crc32 } from 'zlib';

export function digestsOf(b: Buffer): { crc32: string; md5: string; sha1: string; sha256: string } {
  return {
    crc32: (crc32(b) >>> 0).toString(16).padStart(8, '0'),
    md5: createHash('md5').update(b).digest('hex'),
    sha1: createHash('sha1').update(b).digest('hex'),
    sha256: createHash('sha256').update(b).digest('hex'),
  };
}
