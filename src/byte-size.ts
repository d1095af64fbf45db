// A file's or a block device's size, for every layer (a leaf: imports nothing of ours). A device's st_size is 0.
import { promises as fsp, Stats } from 'fs';

/** Size in bytes of what `st` describes: st_size, except for a block device, where st_size is 0 (ask sysfs). */
export async function byteSize(st: Stats): Promise<number> {
  if (!st.isBlockDevice()) return st.size;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sectors = await fsp.readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8');
  return Number(sectors.trim()) * 512;
}
