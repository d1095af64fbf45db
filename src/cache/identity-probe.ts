// Device reads made only to establish or verify a medium's identity (see identity.ts for the why).
import { MediaError } from '../source/block-source';
import type { DeviceReader } from './device-reader';
import { windowSectorCount } from './identity';

/**
 * Reads the fingerprint window once: one read of up to 64 KiB, and only if that fails, sector by sector so that
 * one bad sector (even sector 0) costs only itself. `null` marks an unreadable sector. SourceLostError propagates.
 * Sectors `known` already (probed while comparing with other caches) are taken as they are, not read again.
 */
export async function readWindow(source: DeviceReader, known: (sector: number) => Buffer | null | undefined = () => undefined): Promise<(Buffer | null)[]> {
  const ss = source.sectorSize;
  const n = windowSectorCount(source.size, ss);
  const out: (Buffer | null)[] = Array.from({ length: n }, (_, i) => known(i) ?? null);
  // Sectors already read while comparing with other caches are not read again: the runs between them are.
  for (let a = 0; a < n; ) {
    if (known(a) !== undefined) {
      a++;
      continue;
    }
    let b = a + 1;
    while (b < n && known(b) === undefined) b++;
    await readRun(source, a, b, out);
    a = b;
  }
  return out;
}

/** Window sectors [a, b) into out[a..b): one read, and only if that fails, sector by sector. */
async function readRun(source: DeviceReader, a: number, b: number, out: (Buffer | null)[]): Promise<void> {
  const ss = source.sectorSize;
  const end = Math.min(b * ss, source.size);
  try {
    const buf = await source.probe(a * ss, end - a * ss);
    for (let i = a; i < b; i++) out[i] = Buffer.from(buf.subarray((i - a) * ss, Math.min((i - a + 1) * ss, buf.length)));
    return;
  } catch (e) {
    if (!(e instanceof MediaError)) throw e;
  }
  for (let i = a; i < b; i++) {
    const len = Math.min(ss, source.size - i * ss);
    try {
      out[i] = await source.probe(i * ss, len);
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      out[i] = null;
    }
  }
}

/** Single-sector device reads for probing, memoized so probing several candidate caches reads each sector once. */
export class ProbeReader {
  private readonly memo = new Map<number, Buffer | null>();
  sectors = 0;
  bytes = 0;

  constructor(private readonly source: DeviceReader) {}

  /** A sector read already (null: unreadable), or undefined. */
  known(s: number): Buffer | null | undefined {
    return this.memo.get(s);
  }

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
 * Compares probe sectors read from the medium with the cached bytes. One differing sector is a mismatch, unless
 * `damaged` shows the cached copy is what is wrong (stored-copy.ts); such sectors and unreadable ones are skipped;
 * if none could be compared, identity cannot be shown.
 */
export async function verifyProbe(
  probeSectors: readonly number[],
  cached: (sector: number) => Promise<Buffer>,
  reader: ProbeReader,
  damaged: (sector: number) => Promise<boolean> = async () => false,
): Promise<ProbeVerdict> {
  let matched = 0;
  for (const s of probeSectors) {
    const dev = await reader.sector(s);
    if (dev === null) continue;
    if (!dev.equals(await cached(s))) {
      if (await damaged(s)) continue;
      return { result: 'mismatch', sector: s };
    }
    matched++;
  }
  return matched > 0 || probeSectors.length === 0 ? { result: 'match' } : { result: 'unverifiable' };
}
