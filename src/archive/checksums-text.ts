// The text of /checksums and of a bag's data/checksums: BSD-style tagged lines that `md5sum -c`, `sha1sum -c`,
// `sha256sum -c` and `cksum -c` accept (each checks its own lines and skips the others; '#' lines are comments).
// CRC-32 has no tag those tools know, so it is a comment line in the same shape.
import type { ChecksumState } from './checksum-tracker';
import type { DatVerdict } from './dat';

/** A name with a line break or a backslash is escaped as coreutils writes it (\n, \r, \\): a raw line break cut the line. */
function escapedName(name: string): { name: string; mark: string } {
  if (!/[\\\n\r]/.test(name)) return { name, mark: '' };
  return { name: name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r'), mark: '\\' };
}

export function checksumsText(imageName: string, s: ChecksumState, verdict?: DatVerdict): string {
  // Tagged lines with an escaped name begin with a backslash (md5sum -c then unescapes it).
  const { name, mark } = escapedName(imageName);
  const lines = [`# blkfs checksums of the medium image ${name} (${s.size} bytes; unreadable sectors count as zeros)`];
  if (!s.complete || !s.digests) {
    const why = s.waiting ? 'the hashing waits while the medium is read fast, then catches up from the cache' : 'not settled yet';
    // Every byte hashed, the digests not out yet (the worker is finishing them): nothing is missing, only a moment.
    if (s.bytesMissing === 0) lines.push(`# incomplete: every byte hashed (${s.bytesHashed}), the digests follow in a moment`);
    else lines.push(`# incomplete: ${s.bytesMissing} bytes missing (${why}), ${s.bytesHashed} bytes hashed so far`);
    return lines.join('\n') + '\n';
  }
  lines.push(`# complete: ${s.bytesBad} bytes unreadable${s.bytesBad > 0 ? ' (zeros in the image)' : ''}`);
  if (verdict) lines.push(`# DAT: ${verdict.text.replace(/[\r\n]/g, ' ')}`); // a DAT's names may hold line breaks (&#10;)
  const d = s.digests;
  lines.push(`# CRC32 (${name}) = ${d.crc32}`, `${mark}MD5 (${name}) = ${d.md5}`, `${mark}SHA1 (${name}) = ${d.sha1}`, `${mark}SHA256 (${name}) = ${d.sha256}`);
  return lines.join('\n') + '\n';
}
