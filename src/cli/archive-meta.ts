// `blkfs archive --meta key=value`: a bag-info.txt line with the label as the user wrote it (BagIt profiles name
// labels such as Source-Organization exactly), and x-amz-meta-* user metadata on every S3 object (lowercase: S3
// and HTTP treat header names without case).
import { UserError } from '../errors';

export interface ArchiveMeta {
  /** In the order given; a repeated label stays repeated (RFC 8493 allows it). */
  bagInfo: [string, string][];
  /** A repeated key's values joined with ", ", as HTTP joins repeated headers. */
  s3: Record<string, string>;
}

export function parseArchiveMeta(list: readonly string[]): ArchiveMeta {
  const bagInfo: [string, string][] = [];
  const s3: Record<string, string> = {};
  for (const kv of list) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$/s.exec(kv);
    if (!m) throw new UserError(`--meta wants key=value (letters, digits, _ . - in the key), got ${JSON.stringify(kv)}`);
    bagInfo.push([m[1], m[2]]);
    const key = m[1].toLowerCase();
    s3[key] = key in s3 ? `${s3[key]}, ${m[2]}` : m[2];
  }
  return { bagInfo, s3 };
}
