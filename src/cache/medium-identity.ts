// Identity samples spread across the whole medium, so two discs mastered from one template (equal first 64 KiB,
// equal size) are still told apart. On first contact a few dozen single sectors at fixed fractions of the medium
// are read once and stored in the cache like any other read ('+', or '-' when unreadable): they are never read
// for the cache again. Every later identification (reopen, a medium back in the drive, an NBD reconnect) reads
// the cached ones from the device again and compares: that small re-read is the stated exception to "each sector
// is read once", counted in /status (identityProbe).
//
// What it can tell apart: discs that differ in size, sector size, or in any of the sampled sectors (the first
// 64 KiB's probe sectors plus SAMPLE_COUNT sectors spread evenly). What it cannot: discs equal in all sampled
// sectors that differ elsewhere (e.g. one file changed between two pressings): for those, the cache of one is
// served for the other's unsampled sectors. Use --cache per disc when that matters.
import { MediaError } from '../source/block-source';
import type { DeviceReader } from './device-reader';
import type { Extent } from './extent-map';
import { PROBE_BYTES, windowSectorCount } from './identity';

export const SAMPLE_COUNT = 32;

/** Sectors at fixed fractions (k + 0.5) / SAMPLE_COUNT of the medium, outside the fingerprint window. */
export function spreadSampleSectors(size: number, sectorSize: number): number[] {
  const n = Math.ceil(size / sectorSize);
  const win = windowSectorCount(size, sectorSize);
  const out = new Set<number>();
  for (let k = 0; k < SAMPLE_COUNT; k++) {
    const s = Math.floor(((k + 0.5) * n) / SAMPLE_COUNT);
    if (s >= win && s < n) out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * Reads each sample once (a null for an unreadable one); `known` ones (read while comparing with other caches) are
 * not read again. A lost source propagates: nothing is decided.
 */
export async function readSamples(
  device: DeviceReader,
  sectors: readonly number[],
  known: (sector: number) => Buffer | null | undefined = () => undefined,
): Promise<Map<number, Buffer | null>> {
  const ss = device.sectorSize;
  const out = new Map<number, Buffer | null>();
  for (const s of sectors) {
    const len = Math.min(ss, device.size - s * ss);
    const had = known(s);
    if (had !== undefined) {
      out.set(s, had);
      continue;
    }
    try {
      out.set(s, await device.probe(s * ss, len));
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      out.set(s, null);
    }
  }
  return out;
}

/**
 * The sectors a medium is compared by: the identity samples the cache holds ('+'), or, when it holds none (all were
 * unreadable when the cache was made, or forgotten as damaged), its first cached sectors, at most PROBE_BYTES.
 * Empty only when nothing is cached: then nothing of one medium can be served for another.
 */
export function sectorsToCompare(samples: readonly number[], statusAt: (sector: number) => string, extents: readonly Extent[], sectorSize: number): number[] {
  const held = samples.filter((s) => statusAt(s) === '+');
  if (held.length > 0) return held;
  const most = Math.max(1, PROBE_BYTES / sectorSize);
  for (const r of extents) {
    for (let s = r.start; r.status === '+' && s < r.start + r.count && held.length < most; s++) held.push(s);
  }
  return held;
}

/** `sectors`/`bytes`: what was read from the medium to decide (counted in /status: the check's re-reads). */
export type IdentityVerdict =
  | { result: 'same'; sectors: number; bytes: number }
  | { result: 'different'; reason: string; sectors: number; bytes: number }
  | { result: 'unknown'; reason: string };

/**
 * Is the medium behind `read` the one whose cached samples are given? Size and sector size first (no read), then
 * each cached sample read again and compared. Unreadable samples are skipped, and so are samples whose cached copy
 * is not to be trusted (`bytesOf` gives undefined: damaged, or forgotten); none compared: unknown.
 */
export async function identify(
  medium: { size: number; sectorSize: number; read(offset: number, length: number): Promise<Buffer> },
  cached: { size: number; sectorSize: number; samples: readonly number[]; bytesOf(sector: number): Promise<Buffer | undefined> },
): Promise<IdentityVerdict> {
  if (medium.size !== cached.size || medium.sectorSize !== cached.sectorSize) {
    return { result: 'different', reason: `it has ${medium.size} bytes in ${medium.sectorSize}-byte sectors, the cached one ${cached.size} in ${cached.sectorSize}`, sectors: 0, bytes: 0 };
  }
  let sectors = 0;
  let bytes = 0;
  for (const s of cached.samples) {
    const off = s * cached.sectorSize;
    const len = Math.min(cached.sectorSize, cached.size - off);
    const mine = await cached.bytesOf(s);
    if (mine === undefined) continue;
    let dev: Buffer;
    try {
      dev = await medium.read(off, len);
    } catch (e) {
      if (e instanceof MediaError) continue;
      throw e;
    }
    sectors++;
    bytes += len;
    if (!dev.equals(mine)) return { result: 'different', reason: `sector ${s} differs from the cached one`, sectors, bytes };
  }
  if (sectors === 0 && cached.samples.length > 0) return { result: 'unknown', reason: 'none of the identity samples could be read' };
  return { result: 'same', sectors, bytes };
}
