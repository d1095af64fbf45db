// What the mount tells `blkfs archive` through /status (plain JSON, written by the server, read by the client).
import type { ChecksumState } from './checksum-tracker';
import type { DatVerdict } from './dat';

/** /sbx/image.sbx as the mount renders it: enough to plan its parts without reading it. */
export interface SbxImageInfo {
  version: number;
  dataShards: number;
  parityShards: number;
  burst: number;
  hash: string;
  blockSize: number;
  containerSize: number;
  /** SBX UID (hex) and the name the decoded image gets. */
  uid: string;
  name: string;
}

/** One `blkfs archive` run attached to the mount, as shown in /status. */
export interface ArchiveProgress {
  destinations: string[];
  phase: 'waiting for sectors' | 'archiving' | 'hashing the container' | 'writing the bag' | 'verifying' | 'done';
  /** Medium bytes settled ('+' or '-') of mediumBytes. */
  bytesRead: number;
  mediumBytes: number;
  /** data/image.sbx bytes stored in every destination, of containerBytes. */
  bytesArchived: number;
  containerBytes: number;
  rateBytesPerSec: number;
  /** Seconds left at the current rate (null when unknown). */
  etaSeconds: number | null;
}

/** The fields of /status the archive reads. */
export interface MountStatusForArchive {
  size: number;
  sectorSize: number;
  bytesCached: number;
  bytesBad: number;
  bytesUntried: number;
  bytesNonTrimmed: number;
  bytesNonScraped: number;
  retries?: number;
  sbxImage?: SbxImageInfo | null;
  checksums?: ChecksumState & { dat?: DatVerdict | null };
  server: { pid: number; cacheDir: string; source: string; controlSocket: string; mountpoint: string };
}
