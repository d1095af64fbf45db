// Where a bag goes: a local directory or an S3-compatible bucket. The archive workflow hands every store the same
// parts of data/image.sbx (as their sectors arrive, the metadata part last) and then the small files; each store
// keeps what it needs to resume in a small JSON beside the cache (see archive-state.ts).
import type { FileFixity } from './bagit';
import { OperationError, UserError } from '../errors';

/** A part of data/image.sbx as stored. */
export interface PartRecord {
  n: number;
  size: number;
  /** Hex digests of the part's bytes (md5 '' for stores that do not use it). */
  md5: string;
  sha256: string;
  /** The store's tag for it (S3 ETag), if any. */
  etag?: string;
}

/** What a store persists to resume an interrupted image upload (S3: the multipart upload id). */
export interface StoreResume {
  uploadId?: string;
  /** Parts stored for good, by part number. */
  parts: Record<string, PartRecord>;
}

/** The whole data/image.sbx as the manifest will list it, plus its parts' digests. */
export interface ImageFixity {
  size: number;
  sha256: string;
  /** '' when no store wants MD5s. */
  md5: string;
  /** This store's records of the parts. */
  parts: PartRecord[];
}

export interface BagStore {
  /** e.g. "/srv/bags/medium-0123456789ab" or "s3://bags/disks/medium-0123456789ab". */
  readonly label: string;
  /** Uses MD5s (S3: Content-MD5 and ETags); otherwise the archive does not compute them. */
  readonly wantsMd5: boolean;
  /** The most parts data/image.sbx may have in this store (S3's multipart limit); none for a directory. */
  readonly maxParts?: number;
  /** True when a finished bag is there already (never overwritten). */
  bagExists(): Promise<boolean>;
  /** Starts (or, given `saved`, resumes) storing data/image.sbx; returns the state to save. */
  openImage(size: number, saved: StoreResume | undefined): Promise<StoreResume>;
  /** Stores part n (1-based) of data/image.sbx; resolves once it is stored for good. */
  putPart(n: number, bytes: Buffer, md5: Buffer, sha256: Buffer): Promise<PartRecord>;
  /** All parts are stored: assemble data/image.sbx. */
  completeImage(parts: PartRecord[]): Promise<void>;
  /** A small file of the bag (relative path), stored for good. */
  putFile(relPath: string, bytes: Buffer, sha256: Buffer): Promise<void>;
  /** Makes the bag visible under its final name (directory rename; nothing for S3). */
  finish(): Promise<void>;
  /** Checks every stored file's size and checksum against the manifest; throws on any difference. */
  verify(files: readonly FileFixity[], image: ImageFixity): Promise<void>;
  /** verify() of the bag under its final name (one an interrupted run finished); BagVerifyError on a difference. */
  verifyFinished(files: readonly FileFixity[], image: ImageFixity): Promise<void>;
  /**
   * Checks the finished bag by itself: every file against its own manifests, data/image.sbx holding exactly these
   * parts. Returns the SHA-256 of data/image.sbx. BagVerifyError on a difference. (Directories only.)
   */
  verifyOwnManifests?(parts: readonly PartRecord[]): Promise<string>;
  /** Lets go of what the store holds open (a file, a lock) once the run has ended, finished or failed. */
  close?(): Promise<void>;
}

/** Retries a store operation: each part is retried on failure before the archive gives up. */
export async function withRetries<T>(what: string, attempts: number, fn: () => Promise<T>, delayMs = 500): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UserError) throw err; // bad input does not get better by trying again
      last = err;
      if (i + 1 < attempts) await new Promise((r) => setTimeout(r, delayMs * 2 ** i));
    }
  }
  const msg = last instanceof Error ? last.message || last.name : String(last);
  throw new Error(`${what} failed after ${attempts} attempts: ${msg}`, { cause: last });
}

/** A failure of a destination is a failure during the operation (exit 2); what was stored stays recorded. */
export function storeError(err: unknown): unknown {
  if (err instanceof UserError || err instanceof OperationError) return err;
  return new OperationError(err instanceof Error ? err.message : String(err), { cause: err });
}
