// Device reads made only to establish or verify a medium's identity (see identity.ts for the why).
import { MediaError } from '../source/block-source';
import type { DeviceReader } from './device-reader';
import { windowSectorCount } from './identity';

/**
 * Reads the fingerprint window once: one read of up to 64 KiB, and only if that fails, sector by sector so that
 * one bad sector (even sector 0) costs only itself. `null` marks an unreadable sector. SourceLostError propagates.
 */
export async function readWindow(source: DeviceReader): Promise<(Buffer | null)[]> {
  const ss = source.sectorSize;
  const n = windowSectorCount(source.size, ss);
  if (n === 0) return [];
  const bytes = Math.min(n * ss, source.size);
  const slice = (buf: Buffer, i: number) => Buffer.from(buf.subarray(i * ss, Math.min((i + 1) * ss, buf.length)));
  try {
    const buf = await source.probe(0, bytes);
    return Array.from({ length: n }, (_, i) => slice(buf, i));
  } catch (e) {
    if (!(e instanceof MediaError)) throw e;
  }
  const out: (Buffer | null)[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.min(ss, source.size - i * ss);
    try {
      out.push(await source.probe(i * ss, len));
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      out.push(null);
    }
  }
  return out;
}

/** Single-sector device reads for probing, memoized so probing several candidate caches reads each sector once. */
export class ProbeReader {
  private readonly memo = new Map<number, Buffer | null>();
  sectors = 0;
  bytes = 0;

  constructor(private readonly source: DeviceReader) {}

  async sector(s: number): Promise<Buffer | null> {
    const hit = this.memo.get(s);
    if (hit !== undefined) return hit;
    const ss = this.source.sectorSize;
    const len = Math.min(ss, this.source.size - s * ss);
    let result: Buffer | null;
    try {
      result = await this.source.probe(s * ss, len);
      this.sectors++;
      this.bytes += len;
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      result = null;
    }
    this.memo.set(s, result);
    return result;
  }
}

export type ProbeVerdict = { result: 'match' } | { result: 'mismatch'; sector: number } | { result: 'unverifiable' };

/**
 * Compares probe sectors read from the medium with the cached bytes. One differing sector is a mismatch;
 * unreadable probe sectors are skipped; if none could be read, identity cannot be shown.
 */
export async function verifyProbe(
  probeSectors: readonly number[],
  cached: (sector: number) => Promise<Buffer>,
  reader: ProbeReader,
): Promise<ProbeVerdict> {
  let matched = 0;
  for (const s of probeSectors) {
    const dev = await reader.sector(s);
    if (dev === null) continue;
    if (!dev.equals(await cached(s))) return { result: 'mismatch', sector: s };
    matched++;
  }
  return matched > 0 || probeSectors.length === 0 ? { result: 'match' } : { result: 'unverifiable' };
}
