// Medium identity. A cache must never serve disc A's bytes for disc B (rule 1), so every open checks the medium.
//
// - size and sector size must match exactly (no read needed);
// - fingerprint: sha256 over the first 64 KiB, sector by sector, with unreadable sectors replaced by a marker, so a
//   bad sector 0 does not prevent identifying the medium. Those 64 KiB are read once, when the cache is created,
//   and stored in the cache as ordinary '+' sectors: the fingerprint costs no extra device read;
// - reopening compares a few "probe" sectors (chosen at creation among the readable, non-zero sectors of that
//   window, spread across it, at most PROBE_BYTES) read from the medium against the cached bytes. That re-read is
//   the one deliberate exception to "each sector is read once", kept small and reported as identityProbe.
import { createHash } from 'crypto';

export const FINGERPRINT_WINDOW = 64 * 1024;
/** How much a reopen re-reads, at most, to prove the medium is the same (e.g. 4 CD sectors, 16 disk sectors). */
export const PROBE_BYTES = 8 * 1024;

/** Sectors of the fingerprint window: [0, min(64 KiB, size)) rounded up to whole sectors. */
export function windowSectorCount(size: number, sectorSize: number): number {
  return Math.ceil(Math.min(FINGERPRINT_WINDOW, size) / sectorSize);
}

/** sha256 hex of the window; `null` entries are unreadable sectors. */
export function fingerprintOf(size: number, sectorSize: number, sectors: readonly (Buffer | null)[]): string {
  const h = createHash('sha256');
  h.update(`blkfs-fingerprint-1\0${size}\0${sectorSize}\0`);
  sectors.forEach((s, i) => {
    if (s) {
      h.update(Buffer.from([1]));
      h.update(s);
    } else {
      h.update(`\0bad ${i}\0`);
    }
  });
  return h.digest('hex');
}

function isZero(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Probe sectors: readable ones spread evenly over the window, preferring non-zero content (an ISO's first 32 KiB
 * are often zeros; its volume descriptor at 32 KiB tells discs apart). Falls back to zero sectors only if needed.
 */
export function chooseProbeSectors(sectors: readonly (Buffer | null)[], sectorSize: number): number[] {
  const max = Math.max(1, Math.floor(PROBE_BYTES / sectorSize));
  const readable = sectors.map((s, i) => (s ? i : -1)).filter((i) => i >= 0);
  const nonZero = readable.filter((i) => !isZero(sectors[i] as Buffer));
  const pool = nonZero.length > 0 ? nonZero : readable;
  if (pool.length <= max) return pool;
  const picked = new Set<number>();
  for (let k = 0; k < max; k++) picked.add(pool[Math.round((k * (pool.length - 1)) / (max - 1 || 1))]);
  return [...picked].sort((a, b) => a - b);
}

/** What a reopen read from the medium to verify its identity. */
export interface IdentityProbe {
  method: 'created' | 'probe' | 'stable-identity';
  sectors: number;
  bytes: number;
}
