// The name under which /rescued/<UID>/ shows a decoded file: the name `blkfs sbx decode` gives the same container
// (blkar's file-name part of FNM, #249/#250), so a backslash stays part of it as on Linux. FNM comes from an
// untrusted medium, and a FUSE directory entry must also be one non-empty path component without NUL that does
// not hide the directory's other entries.
import { fileNamePart } from '../../sbx/format/file-name-part';

/** FNM reduced to a safe single file name, or undefined when nothing usable is left. */
export function safeFileName(fnm: string | undefined, reserved: readonly string[] = []): string | undefined {
  const base = fnm === undefined ? undefined : fileNamePart(fnm);
  if (base === undefined) return undefined;
  // Control characters (NUL included) would break listings and terminals; replace, do not drop, so two
  // different names stay different.
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, '_');
  if (Buffer.byteLength(cleaned, 'utf8') > 255) return undefined;
  if (reserved.includes(cleaned)) return undefined;
  return cleaned;
}
