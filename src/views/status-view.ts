// /status: one JSON object with the cache counters plus what a client needs to reach the server
// (`blkfs umount` and `blkfs acquire` find the control socket here).
import type { SectorCache } from '../cache/sector-cache';
import { GeneratedFileView } from './generated-file-view';

export interface ServerInfo {
  pid: number;
  controlSocket: string;
  cacheDir: string;
  source: string;
  mountpoint: string;
  /** The mount log file (null: the stderr of a foreground mount). */
  log?: string | null;
  /** The web page's address, when the mount serves one (--http). */
  http?: string | null;
  /** e.g. the acquisition in progress, if any. */
  activity?: () => object;
}

export function renderStatus(cache: SectorCache, server: ServerInfo): string {
  const { activity, ...fixed } = server;
  return JSON.stringify({ ...cache.status(), ...(activity ? activity() : {}), server: fixed }, null, 2) + '\n';
}

export class StatusView extends GeneratedFileView {
  constructor(cache: SectorCache, server: ServerInfo) {
    // No state key: rendering is cheap, and the counters change with every read.
    super(() => renderStatus(cache, server));
  }
}
