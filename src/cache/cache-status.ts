// The cache's state as counters (/status) and as a GNU ddrescue mapfile (/mapfile), with the status line they share.
import type { DeviceReader } from './device-reader';
import type { SectorMap, SectorStatus } from './extent-map';
import type { IdentityProbe } from './identity';
import { renderMapfile } from './mapfile';
import type { CacheStatus } from './sector-cache';
import type { Progress } from './sector-store';

export interface StatusInputs {
  cacheDir: string;
  size: number;
  sectorSize: number;
  map: SectorMap;
  device: DeviceReader;
  identityProbe: IdentityProbe;
  retries: number;
  /** The running acquisition's status line, or undefined when none runs. */
  acquiring: Progress | undefined;
  /** The status line saved by the latest acquisition, if any. */
  saved: Progress | undefined;
}

/** Bytes per status, the last partial sector counted for what it holds. */
function bytesByStatus(map: SectorMap, size: number, sectorSize: number): Record<SectorStatus, number> {
  const t = map.totals();
  const out = { '?': 0, '*': 0, '/': 0, '-': 0, '+': 0 } as Record<SectorStatus, number>;
  for (const k of Object.keys(t) as SectorStatus[]) out[k] = t[k] * sectorSize;
  const slack = map.sectorCount * sectorSize - size;
  if (slack > 0) out[map.statusAt(map.sectorCount - 1)] -= slack;
  return out;
}

/** Status-line fields: the acquisition's while it runs; otherwise derived from what is left to do. */
export function statusLine(s: StatusInputs): Progress {
  if (s.acquiring) return s.acquiring;
  const t = s.map.totals();
  const saved = s.saved;
  const pos = saved?.currentPos ?? s.device.lastPos;
  if (t['?'] > 0) return { phase: '?', pass: saved?.phase === '?' ? saved.pass : 1, currentPos: pos };
  if (t['*'] > 0) return { phase: '*', pass: 1, currentPos: pos };
  if (t['/'] > 0) return { phase: '/', pass: 1, currentPos: pos };
  return { phase: '+', pass: saved?.pass ?? 1, currentPos: pos };
}

export function cacheStatus(s: StatusInputs): CacheStatus {
  const b = bytesByStatus(s.map, s.size, s.sectorSize);
  const line = statusLine(s);
  const { counts, prefetchCounts, foregroundCounts } = s.device;
  return {
    size: s.size,
    sectorSize: s.sectorSize,
    cacheDir: s.cacheDir,
    bytesCached: b['+'],
    bytesBad: b['-'],
    bytesUntried: b['?'],
    bytesNonTrimmed: b['*'],
    bytesNonScraped: b['/'],
    deviceReads: counts.reads + counts.failedReads,
    deviceBytes: counts.bytes,
    deviceFailedReads: counts.failedReads,
    deviceTransientReads: s.device.transientReads,
    prefetchReads: prefetchCounts.reads,
    prefetchBytes: prefetchCounts.bytes,
    prefetchFailedReads: prefetchCounts.failedReads,
    foregroundReads: foregroundCounts.reads,
    foregroundBytes: foregroundCounts.bytes,
    foregroundFailedReads: foregroundCounts.failedReads,
    readRateBytesPerSec: Math.round(s.device.readRate()),
    phase: line.phase,
    pass: line.pass,
    currentPos: line.currentPos,
    identityProbe: { ...s.identityProbe },
    retries: s.retries,
    source: s.device.sourceHealth(),
  };
}

/** The state as a GNU ddrescue mapfile, from one snapshot. */
export function mapfileText(s: StatusInputs): string {
  const line = statusLine(s);
  return renderMapfile(s.map.extents(), s.sectorSize, s.size, { ...line, comments: [`Medium: ${s.size} bytes, sector size ${s.sectorSize}`] });
}
