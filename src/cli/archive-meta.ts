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

/**
 * bag-info.txt labels blkfs writes from the bag itself, which RFC 8493 §2.2.2 says are not repeated (Payload-Oxum MUST
 * NOT be): a second, user-given one would contradict the first, and validators reject or misread the bag.
 */
const WRITTEN_ONCE = new Set(['payload-oxum', 'bagging-date', 'bag-size']);

export function parseArchiveMeta(list: readonly string[]): ArchiveMeta {
  const bagInfo: [string, string][] = [];
  const s3: Record<string, string> = {};
  for (const kv of list) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)=(.*)$/s.exec(kv);
    if (!m) throw new UserError(`--meta wants key=value (letters, digits, _ . - in the key), got ${JSON.stringify(kv)}`);
    if (WRITTEN_ONCE.has(m[1].toLowerCase())) throw new UserError(`--meta ${m[1]}: blkfs writes it itself from the bag (a bag-info.txt label RFC 8493 allows once)`);
    bagInfo.push([m[1], m[2]]);
    const key = m[1].toLowerCase();
    s3[key] = key in s3 ? `${s3[key]}, ${m[2]}` : m[2];
  }
  return { bagInfo, s3 };
}
