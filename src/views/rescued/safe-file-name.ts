// The name under which /rescued/<UID>/ shows a decoded file. FNM comes from an untrusted medium: blkar 7.2.3
// (#249/#250) keeps only its file-name part, and a FUSE directory entry must also be one non-empty path
// component without NUL, and must not hide the directory's other entries.

/** FNM reduced to a safe single file name, or undefined when nothing usable is left. */
export function safeFileName(fnm: string | undefined, reserved: readonly string[] = []): string | undefined {
  if (fnm === undefined) return undefined;
  // File-name part: whatever follows the last separator of either convention.
  const base = fnm.split(/[\\/]/).pop() ?? '';
  // Control characters (NUL included) would break listings and terminals; replace, do not drop, so two
  // different names stay different.
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/g, '_');
  if (cleaned === '' || cleaned === '.' || cleaned === '..') return undefined;
  if (Buffer.byteLength(cleaned, 'utf8') > 255) return undefined;
  if (reserved.includes(cleaned)) return undefined;
  return cleaned;
}
