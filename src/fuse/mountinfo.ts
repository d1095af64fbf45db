// Which paths are mount points right now, from /proc/self/mountinfo (the kernel's view; `mount` output and
// /etc/mtab can be stale or missing in containers).
import * as fs from 'fs';
import * as path from 'path';

export interface MountEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  /** major:minor of the mounted filesystem; for FUSE the minor is the connection number. */
  device: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left, right] = line.split(' - ');
    const fields = left.split(' ');
    const after = (right ?? '').split(' ');
    if (fields.length < 5) continue;
    entries.push({ mountpoint: unescape(fields[4]), fstype: after[0] ?? '', source: unescape(after[1] ?? ''), device: fields[2] });
  }
  return entries;
}

export function mountEntries(): MountEntry[] {
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The mount at exactly this path (the last one wins: mounts stack), if any. */
export function mountAt(dir: string): MountEntry | undefined {
  const want = path.resolve(dir);
  return mountEntries()
    .filter((m) => m.mountpoint === want)
    .pop();
}
