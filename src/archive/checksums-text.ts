// The text of /checksums and of a bag's data/checksums: BSD-style tagged lines that `md5sum -c`, `sha1sum -c`,
// `sha256sum -c` and `cksum -c` accept (each checks its own lines and skips the others; '#' lines are comments).
// CRC-32 has no tag those tools know, so it is a comment line in the same shape.
import type { ChecksumState } from './checksum-tracker';
import type { DatVerdict } from './dat';

export function checksumsText(name: string, s: ChecksumState, verdict?: DatVerdict): string {
  const lines = [`# blkfs checksums of the medium image ${name} (${s.size} bytes; unreadable sectors count as zeros)`];
  if (!s.complete || !s.digests) {
    const why = s.waiting ? 'the hashing waits while the medium is read fast, then catches up from the cache' : 'not settled yet';
    lines.push(`# incomplete: ${s.bytesMissing} bytes missing (${why}), ${s.bytesHashed} bytes hashed so far`);
    return lines.join('\n') + '\n';
  }
  lines.push(`# complete: ${s.bytesBad} bytes unreadable${s.bytesBad > 0 ? ' (zeros in the image)' : ''}`);
  if (verdict) lines.push(`# DAT: ${verdict.text}`);
  const d = s.digests;
  lines.push(`# CRC32 (${name}) = ${d.crc32}`, `MD5 (${name}) = ${d.md5}`, `SHA1 (${name}) = ${d.sha1}`, `SHA256 (${name}) = ${d.sha256}`);
  return lines.join('\n') + '\n';
}
