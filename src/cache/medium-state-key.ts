// Results computed over a whole image (its checksums, its SBX seal) are kept in the cache database under the
// medium state they describe, so a remount of a medium in the same state finds them instead of hashing it again.
import { createHash } from 'crypto';
import type { Extent } from './extent-map';

/**
 * A short fingerprint of a medium state: its geometry and every run that is not '+'. Same key ⇒ same image bytes
 * ('+' bytes never change; every other byte reads as zero). Stored in caches: its text must never change.
 */
export function mediumStateKey(size: number, sectorSize: number, extents: readonly Extent[]): string {
  const h = createHash('sha256');
  h.update(`${size}/${sectorSize}`);
  for (const r of extents) if (r.status !== '+') h.update(`;${r.start}+${r.count}${r.status}`);
  return h.digest('hex');
}
