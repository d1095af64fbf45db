// What an interrupted archive needs to resume, one small JSON file per destination in the cache directory
// (<cache>/archive/<hash of the destination>.json): the multipart upload id and the parts stored for good, with
// the container geometry they belong to. Written atomically (temp file, fsync, rename) after every part.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { StoreResume } from './bag-store';
import type { FileFixity } from './bagit';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, replacePrivateFile } from '../cache/private-files';
import { processExists } from '../proc-fds';

export interface ArchiveState {
  label: string;
  /** The container these parts belong to: a different UID, size or part size starts afresh. */
  uid: string;
  containerSize: number;
  partSize: number;
  started: string;
  resume: StoreResume;
  /**
   * Set just before the bag is made final (tag manifest stored, directory renamed): every file of the bag as this
   * run wrote and checked it. A run killed after that step finds a bag under the final name; if it is exactly this,
   * it is this archive's own finished bag, not someone else's.
   */
  finishing?: { files: FileFixity[]; image: { size: number; sha256: string; md5: string } };
}

export function stateFileFor(cacheDir: string, label: string): string {
  return path.join(cacheDir, 'archive', `${createHash('sha1').update(label).digest('hex').slice(0, 16)}.json`);
}

type Expected = Pick<ArchiveState, 'label' | 'uid' | 'containerSize' | 'partSize'>;

/** The state file as an object, or undefined (none, not JSON, or valid JSON of another shape such as null or 7). */
function readState(file: string): Partial<ArchiveState> | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return s !== null && typeof s === 'object' ? (s as Partial<ArchiveState>) : undefined;
  } catch {
    return undefined;
  }
}

function resumes(s: Partial<ArchiveState>, expect: Expected): s is ArchiveState {
  const same = s.label === expect.label && s.uid === expect.uid && s.containerSize === expect.containerSize && s.partSize === expect.partSize;
  return same && !!s.resume && typeof s.resume.parts === 'object';
}

/** The saved state if it belongs to this container; undefined otherwise (or when there is none). */
export function loadState(file: string, expect: Expected): ArchiveState | undefined {
  const s = readState(file);
  return s && resumes(s, expect) ? s : undefined;
}

/**
 * The multipart upload id of a saved state that loadState() does not resume (another container, or another part
 * size): that upload is left unfinished in the bucket, its parts billed until aborted or expired by a lifecycle rule,
 * and the state naming it is about to be overwritten.
 */
export function abandonedUpload(file: string, expect: Expected): string | undefined {
  const s = readState(file);
  const id = s && !resumes(s, expect) ? s.resume?.uploadId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** archive/ inside the cache directory, private like the cache (it names the destinations and upload ids). */
function ensureStateDir(file: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  fs.chmodSync(dir, PRIVATE_DIR_MODE); // the umask only ever removes bits
}

export function saveState(file: string, s: ArchiveState): void {
  ensureStateDir(file);
  replacePrivateFile(file, JSON.stringify(s, null, 1));
}

export function removeState(file: string): void {
  fs.rmSync(file, { force: true });
}

/**
 * One `blkfs archive` at a time per destination: a lock file beside the state holding the pid. A lock left by a
 * process that is gone (kill -9) is taken over. Returns the release function, or the pid of the live holder.
 */
export function lockState(file: string): (() => void) | number {
  ensureStateDir(file);
  return pidLock(`${file}.lock`);
}

/** An exclusive lock file holding our pid (0600); one held by a dead process is taken over. */
export function pidLock(lock: string): (() => void) | number {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx', mode: PRIVATE_FILE_MODE });
      fs.chmodSync(lock, PRIVATE_FILE_MODE);
      return () => fs.rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processExists(holder)) return holder;
      fs.rmSync(lock, { force: true }); // stale
    }
  }
  throw new Error(`cannot take the lock ${lock}`);
}
