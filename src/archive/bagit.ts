// BagIt 1.0 (RFC 8493) tag files for a medium's bag: bagit.txt, bag-info.txt, manifest-sha256.txt and
// tagmanifest-sha256.txt. Pure text; the stores write the files.

export const BAGIT_TXT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';

/** Payload files of a medium's bag, in the order they are listed (paths relative to the bag). */
export const PAYLOAD = ['data/image.sbx', 'data/image.map', 'data/status.json', 'data/checksums'] as const;
export type PayloadPath = (typeof PAYLOAD)[number];

export interface FileFixity {
  path: string;
  size: number;
  sha256: string;
}

/** RFC 8493 §2.1.3: a path with CR, LF or % is percent-encoded in manifests. */
function manifestPath(p: string): string {
  return p.replace(/%/g, '%25').replace(/\n/g, '%0A').replace(/\r/g, '%0D');
}

export function manifestText(files: readonly FileFixity[]): string {
  return files.map((f) => `${f.sha256}  ${manifestPath(f.path)}\n`).join('');
}

/** Payload-Oxum: octets.streamcount of the payload. */
export function payloadOxum(files: readonly FileFixity[]): string {
  return `${files.reduce((n, f) => n + f.size, 0)}.${files.length}`;
}

/**
 * A label or value of bag-info.txt may not hold line breaks (RFC 8493 ends a line at LF, CR or CRLF: a lone CR
 * made the rest of the value a line of its own, and the bag invalid); a label may not hold ':' either.
 */
function tagLine(label: string, value: string): string {
  const l = label.replace(/[:\r\n]/g, '-').trim();
  const v = value.replace(/[\r\n]+/g, ' ').trim();
  return `${l}: ${v}\n`;
}

/** bag-info.txt from ordered label/value pairs (repeatable labels allowed, as the RFC permits). */
export function bagInfoText(pairs: readonly (readonly [string, string | number])[]): string {
  return pairs.map(([l, v]) => tagLine(l, String(v))).join('');
}

/** "15.2 MB"-style size for Bag-Size (RFC 8493 leaves the unit to the writer). */
export function humanSize(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${bytes} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A name usable as a directory and an S3 key segment. Never one a bag in the making is written under (NAME.partial,
 * NAME.partial.lock beside it): a finished bag called X.partial was taken for bag X's unfinished one and rewritten.
 */
export function safeBagName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 120);
  return s === '' ? 'medium' : s.replace(/\.partial(\.lock)?$/, '_partial$1');
}
