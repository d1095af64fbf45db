// Logical sector size of a source: the unit the cache tracks and the device reads in.
// Block devices: sysfs queue/logical_block_size, which is what the BLKSSZGET ioctl returns (Node has no
// ioctl). Optical drives without it fall back to 2048, as blkcache does for paths with 'sr'/'cd'.
// Files and NBD exports: 512.
import * as fs from 'fs';
import * as path from 'path';
import { SourceArgError, SourceSpec } from './source-spec';

export const DEFAULT_SECTOR_SIZE = 512;
export const CDROM_SECTOR_SIZE = 2048;
export const MIN_SECTOR_SIZE = 512;
export const MAX_SECTOR_SIZE = 65536;

export async function detectSectorSize(spec: SourceSpec, override?: number, sysfsBlock = '/sys/class/block'): Promise<number> {
  if (override !== undefined) return validateSectorSize(override);
  if (spec.kind !== 'device') return DEFAULT_SECTOR_SIZE;
  // /dev/cdrom and friends are symlinks: sysfs knows the kernel name (sr0).
  const name = path.basename(await fs.promises.realpath(spec.path).catch(() => spec.path));
  const fromSysfs = await readLogicalBlockSize(sysfsBlock, name);
  if (fromSysfs !== undefined) return fromSysfs;
  const looksOptical = isOpticalName(name) || (spec.path.startsWith('/dev/') && /sr|cd/.test(path.basename(spec.path)));
  return looksOptical ? CDROM_SECTOR_SIZE : DEFAULT_SECTOR_SIZE;
}

/** --block-size given by the user: a power of two from 512 to 65536. */
export function validateSectorSize(size: number): number {
  if (!Number.isInteger(size) || size < MIN_SECTOR_SIZE || size > MAX_SECTOR_SIZE || (size & (size - 1)) !== 0) {
    throw new SourceArgError(`invalid block size ${size}: must be a power of two from ${MIN_SECTOR_SIZE} to ${MAX_SECTOR_SIZE}`);
  }
  return size;
}

function isOpticalName(name: string): boolean {
  return /^(sr|scd)\d+$/.test(name);
}

async function readLogicalBlockSize(sysfsBlock: string, name: string): Promise<number | undefined> {
  const entry = path.join(sysfsBlock, name);
  // A partition (sda1) has no queue/ of its own; its parent directory (sda) has.
  for (const dir of [entry, path.dirname(await fs.promises.realpath(entry).catch(() => entry))]) {
    try {
      const value = Number((await fs.promises.readFile(path.join(dir, 'queue', 'logical_block_size'), 'utf8')).trim());
      if (Number.isInteger(value) && value >= MIN_SECTOR_SIZE && (value & (value - 1)) === 0) return value;
    } catch {
      // not there: try the next candidate
    }
  }
  return undefined;
}
