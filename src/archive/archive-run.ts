// `blkfs archive`'s workflow, run as a client of the mount: it follows the reading of the medium and stores
// data/image.sbx part by part in every destination as soon as the sectors a part is computed from are settled
// (the metadata part last: it needs the hash of the whole image), then the small files and the tag files, then
// verifies every stored file against the manifest. The container's bytes come from the mount's own
// /sbx/image.sbx (rendered from the cache: the archive never reads the medium itself); what each destination
// stored is saved after every part, so a run that is killed resumes without storing those parts again.
import { createHash, Hash } from 'crypto';
import type { MapBlock } from '../cache/mapfile';
import { parseMapfile } from '../cache/mapfile';
import { BAGIT_TXT, bagInfoText, FileFixity, humanSize, manifestText, payloadOxum } from './bagit';
import { BagStore, ImageFixity, PartRecord, storeError, withRetries } from './bag-store';
import { ArchiveProgress, MountStatusForArchive, SbxImageInfo } from './archive-status';
import { abandonedUpload, ArchiveState, loadState, lockState, removeState, saveState, stateFileFor } from './archive-state';
import { choosePartSize, PartSpec, planParts, productionOrder, s3PartsFit } from './part-plan';
import { finishedEarlier } from './finished-bag';
import { BagVerifyError } from './dir-store';
import { OperationError, UserError } from '../errors';

export interface Container {
  read(offset: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** The mount, as the archive sees it (its files, read without blocking anything). */
export interface MountAccess {
  status(): Promise<MountStatusForArchive>;
  mapfile(): Promise<string>;
  /** An open /sbx/image.sbx (one pinned state of the medium for its whole life). */
  openContainer(): Promise<Container>;
  /** A small file of the mount: 'sbx/image.map', 'status', 'checksums'. */
  readFile(name: string): Promise<Buffer>;
}

export interface ArchiveOptions {
  /** Wanted part size (rounded up to S3's minimum and to whole blocks). */
  partSize?: number;
  /** Attempts per part / file before the archive fails. */
  attempts?: number;
  toolVersion: string;
  /** Extra bag-info.txt lines (--meta key=value too). */
  bagInfo?: readonly (readonly [string, string])[];
  progress?: (p: ArchiveProgress) => void;
  log?: (message: string) => void;
  /** Rejects when the mount's acquisition fails (the parts would wait forever). */
  acquisitionFailed?: Promise<never>;
  /** Parts being stored at once (default 3; with the one being hashed and the next being read, memory holds about
   *  five parts: 40 MiB at the default part size). */
  inflightParts?: number;
}

export interface ArchiveResult {
  bags: string[];
  imageSha256: string;
  containerBytes: number;
  partsStored: number;
  partsAlreadyStored: number;
}

const POLL_MS = 250;

/** Byte ranges of the mapfile whose outcome is not known yet ('?', '*', '/'): usually few, even on a big medium. */
function undecidedRanges(blocks: readonly MapBlock[]): MapBlock[] {
  return blocks.filter((b) => b.status !== '+' && b.status !== '-');
}

function undecided(ranges: readonly MapBlock[], from: number, to: number): boolean {
  return to > from && ranges.some((b) => b.pos < to && b.pos + b.size > from);
}

function sha256(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}

export function bagNameOf(info: SbxImageInfo): string {
  const stem = info.name.replace(/\.[A-Za-z0-9]{1,5}$/, '');
  return `${stem}-${info.uid}`;
}

export async function runArchive(mount: MountAccess, stores: readonly BagStore[], opts: ArchiveOptions): Promise<ArchiveResult> {
  const started = new Date();
  const st0 = await mount.status();
  const info = st0.sbxImage;
  if (!info) throw new UserError('this mount has no /sbx/image.sbx (the medium is too large for the chosen SBX version), so it cannot be archived');
  const partSize = choosePartSize(info.containerSize, info.blockSize, opts.partSize);
  for (const s of stores) if (s.maxParts !== undefined) s3PartsFit(info.containerSize, partSize, s.maxParts);
  const parts = planParts({ version: info.version as 17, d: info.dataShards, p: info.parityShards, burst: info.burst }, st0.size, partSize);

  // One bag per destination: a destination named twice would have two writers racing on one half-written bag.
  const labels = stores.map((s) => s.label);
  const twice = labels.find((l, i) => labels.indexOf(l) !== i);
  if (twice !== undefined) throw new UserError(`${twice} is given twice: name each destination once`);

  // One archive per destination at a time; never overwrite a finished bag; pick up what an interrupted run stored.
  const cacheDir = st0.server.cacheDir;
  const unlock: (() => void)[] = [];
  try {
    for (const s of stores) {
      const held = lockState(stateFileFor(cacheDir, s.label));
      if (typeof held === 'number') throw new UserError(`${s.label}: another blkfs archive (pid ${held}) is writing this bag`);
      unlock.push(held);
    }
    return await archiveLocked(mount, stores, opts, st0, info, parts, partSize, started);
  } finally {
    // A failure of closing does not replace the run's own outcome: a finished run has closed its files already.
    for (const s of stores) await s.close?.().catch(() => undefined);
    for (const u of unlock) u();
  }
}

async function archiveLocked(
  mount: MountAccess,
  stores: readonly BagStore[],
  opts: ArchiveOptions,
  st0: MountStatusForArchive,
  info: SbxImageInfo,
  parts: PartSpec[],
  partSize: number,
  started: Date,
): Promise<ArchiveResult> {
  const log = opts.log ?? (() => {});
  const attempts = opts.attempts ?? 4;
  const cacheDir = st0.server.cacheDir;
  const expectOf = (s: BagStore) => ({ label: s.label, uid: info.uid, containerSize: info.containerSize, partSize });
  const allBags = stores.map((s) => s.label);
  const doneBefore = await finishedEarlier(stores, parts, cacheDir, expectOf);
  for (const s of doneBefore.keys()) {
    log(`${s.label}: already complete (an earlier run finished it); checked again against what it stored`);
  }
  // A finished bag's state (which recognises it as this archive's) goes only once every destination is finished:
  // removed earlier, a rerun after another destination failed took the finished bag for a stranger's (exit 1).
  const removeStates = () => allBags.forEach((l) => removeState(stateFileFor(cacheDir, l)));
  stores = stores.filter((s) => !doneBefore.has(s));
  if (stores.length === 0) {
    removeStates();
    const image = [...doneBefore.values()][0];
    return { bags: allBags, imageSha256: image.sha256, containerBytes: info.containerSize, partsStored: 0, partsAlreadyStored: parts.length };
  }
  const states: ArchiveState[] = [];
  for (const s of stores) {
    const file = stateFileFor(cacheDir, s.label);
    const expect = expectOf(s);
    const saved = loadState(file, expect);
    const abandoned = abandonedUpload(file, expect);
    if (abandoned !== undefined) {
      const [, bucket, base] = /^s3:\/\/([^/]+)\/(.*)$/.exec(s.label) ?? [];
      const abort = bucket === undefined ? '' : ` (aws s3api abort-multipart-upload --bucket ${bucket} --key ${base}/data/image.sbx --upload-id ${abandoned})`;
      log(`${s.label}: an earlier upload of data/image.sbx (upload id ${abandoned}) was for another container or part size: not continued; its parts stay in the bucket until aborted${abort} or a lifecycle rule removes them`);
    }
    const resume = await withRetries(`${s.label}: starting the upload of data/image.sbx`, attempts, () => s.openImage(info.containerSize, saved?.resume));
    const state: ArchiveState = { ...expect, started: saved?.started ?? started.toISOString(), resume };
    saveState(file, state);
    states.push(state);
    const n = Object.keys(resume.parts).length;
    if (n > 0) log(`${s.label}: resuming: ${n} of ${parts.length} parts already stored`);
  }
  const stored = (i: number, p: PartSpec) => states[i].resume.parts[p.n] !== undefined;
  // Parts stored again (or for the first time) by this run; the others were stored before and read the same now.
  const sent = new Set<number>();

  // Progress: what every destination holds.
  const rateStart = { t: Date.now(), bytes: -1 };
  let phase: ArchiveProgress['phase'] = 'waiting for sectors';
  let settledBytes = st0.bytesCached + st0.bytesBad;
  const archivedBytes = () => parts.filter((p) => stores.every((_, i) => stored(i, p))).reduce((n, p) => n + p.size, 0);
  const report = () => {
    const done = archivedBytes();
    if (rateStart.bytes < 0) rateStart.bytes = done;
    const secs = (Date.now() - rateStart.t) / 1000;
    const rate = secs > 0.5 ? (done - rateStart.bytes) / secs : 0;
    opts.progress?.({
      destinations: stores.map((s) => s.label),
      phase,
      bytesRead: settledBytes,
      mediumBytes: st0.size,
      bytesArchived: done,
      containerBytes: info.containerSize,
      rateBytesPerSec: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((info.containerSize - done) / rate) : null,
    });
  };
  report();

  // The container hashed in order while parts come in order (a medium complete at the start); otherwise re-read.
  const inOrder = { sha: createHash('sha256') as Hash, md5: createHash('md5') as Hash, next: 1 };
  // MD5 only where a store uses it (S3: Content-MD5 and ETags).
  const md5Needed = stores.some((s) => s.wantsMd5);

  const container = await mount.openContainer();
  let failure: unknown;
  const inflight = new Set<Promise<void>>();
  const limit = Math.max(1, opts.inflightParts ?? 3);
  // A part stored by an earlier run counts only if the container still reads the same there: with --retries a sector
  // that was bad (zeros) may have been read since, and the bag must hold this run's container throughout.
  const storePart = async (p: PartSpec, bytes: Buffer, md5: Buffer, sha: Buffer) => {
    const shaHex = sha.toString('hex');
    await Promise.all(
      stores.map(async (s, i) => {
        if (stored(i, p)) {
          if (states[i].resume.parts[p.n].sha256 === shaHex) return;
          log(`${s.label}: part ${p.n} of data/image.sbx reads differently now than when it was stored (a sector bad then was read since): storing it again`);
        }
        sent.add(p.n);
        const rec = await withRetries(`${s.label}: storing part ${p.n} of data/image.sbx`, attempts, () => s.putPart(p.n, bytes, md5, sha));
        states[i].resume.parts[p.n] = rec;
        saveState(stateFileFor(cacheDir, s.label), states[i]);
      }),
    );
    report();
  };
  try {
    // A medium already complete is archived in order (one pass: the container is hashed as it goes); otherwise the
    // metadata part waits for the last sector.
    const complete0 = st0.bytesUntried + st0.bytesNonTrimmed + st0.bytesNonScraped === 0;
    const pending = complete0 ? [...parts] : productionOrder(parts); // parts stored before too: they are checked
    opts.acquisitionFailed?.catch((e: unknown) => {
      failure ??= e; // the medium cannot be read on: stop at the next step
    });
    while (pending.length > 0) {
      if (failure !== undefined) throw failure;
      const st = await mount.status();
      settledBytes = st.bytesCached + st.bytesBad;
      // /mapfile is never more decided than the cache, but once ddrescue has written it, it shows ddrescue's own '?'
      // where ddrescue has not rescued what the cache holds (an interrupted ddrescue leaves them so): a medium the
      // cache holds whole is taken from /status, or the archive would wait for those sectors forever.
      const whole = st.bytesUntried + st.bytesNonTrimmed + st.bytesNonScraped === 0;
      const blocks = whole ? [] : undecidedRanges(parseMapfile(await mount.mapfile()).blocks);
      const dataLeft = pending.some((p) => !p.metadata) || inflight.size > 0;
      const ready = pending.filter((p) => (p.metadata ? (complete0 || !dataLeft) && !undecided(blocks, 0, st0.size) : !undecided(blocks, p.imageStart, p.imageEnd)));
      if (ready.length === 0) {
        phase = 'waiting for sectors';
        report();
        await new Promise((r) => setTimeout(r, POLL_MS));
        continue;
      }
      phase = 'archiving';
      // The next part is read from the mount while the current one is hashed.
      const readPart = (q: PartSpec) => {
        const r = container.read(q.offset, q.size);
        r.catch(() => {}); // awaited below; a failure left behind by a store failure is not unhandled
        return r;
      };
      let next = readPart(ready[0]);
      for (let k = 0; k < ready.length; k++) {
        const p = ready[k];
        const bytes = await next;
        if (k + 1 < ready.length) {
          while (inflight.size >= limit) await Promise.race(inflight);
          next = readPart(ready[k + 1]);
        }
        if (bytes.length !== p.size) throw new OperationError(`/sbx/image.sbx: read ${bytes.length} bytes of part ${p.n}, expected ${p.size}`);
        const md5 = md5Needed ? createHash('md5').update(bytes).digest() : Buffer.alloc(0);
        const sha = sha256(bytes);
        if (p.n === inOrder.next) {
          inOrder.sha.update(bytes);
          if (md5Needed) inOrder.md5.update(bytes);
          inOrder.next++;
        }
        if (failure !== undefined) throw failure;
        const job: Promise<void> = storePart(p, bytes, md5, sha)
          .catch((e: unknown) => {
            failure ??= e;
          })
          .finally(() => inflight.delete(job));
        inflight.add(job);
        pending.splice(pending.indexOf(p), 1);
      }
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  } catch (err) {
    await Promise.allSettled(inflight);
    await container.close();
    throw storeError(err);
  }

  const partsOf = (i: number) => parts.map((p) => states[i].resume.parts[p.n]);
  let image: ImageFixity;
  let st: MountStatusForArchive;
  let payload: [string, Buffer][];
  try {
    // The small payload files, once the mount's image checksums are complete.
    phase = 'writing the bag';
    report();
    st = await waitForChecksums(mount);
    payload = [
      ['data/image.map', await mount.readFile('sbx/image.map')],
      ['data/status.json', await mount.readFile('status')],
      ['data/checksums', await mount.readFile('checksums')],
    ];
    // The whole container's digests: from the in-order pass, or by reading it again from the cache.
    phase = 'hashing the container';
    report();
    if ((st0.retries ?? 0) > 0) {
      // With retries a sector that was bad (zeros) when its part was stored may have been read since: image.map
      // and checksums, read just now, describe the state now, so the container must be that state's too. Read
      // after them, it is checked part by part (before the image is completed, so a rerun can store parts again).
      const fresh = await mount.openContainer();
      try {
        image = await rehashContainer(fresh, parts, partsOf(0), info.containerSize, md5Needed);
      } finally {
        await fresh.close();
      }
    } else if (inOrder.next > parts.length) {
      image = { size: info.containerSize, sha256: inOrder.sha.digest('hex'), md5: md5Needed ? inOrder.md5.digest('hex') : '', parts: [] };
    } else {
      image = await rehashContainer(container, parts, partsOf(0), info.containerSize, md5Needed); // the same pinned state
    }
  } finally {
    await container.close();
  }
  // S3 has no lock a second archive under the same name would meet (a directory bag has its .partial.lock): one may
  // have finished the bag while this one ran. Looked at again before anything of the bag is written over.
  for (const s of stores) await refuseFinishedMeanwhile(s, attempts);
  for (const [i, s] of stores.entries()) {
    await withRetries(`${s.label}: completing data/image.sbx`, attempts, () => s.completeImage(partsOf(i))).catch((e) => Promise.reject(storeError(e)));
  }

  const files: FileFixity[] = [{ path: 'data/image.sbx', size: image.size, sha256: image.sha256 }];
  for (const [p, b] of payload) files.push({ path: p, size: b.length, sha256: sha256(b).toString('hex') });
  const finished = new Date();
  const bagInfo = Buffer.from(bagInfoText(bagInfoPairs(st, info, files, opts, states[0]?.started ?? started.toISOString(), finished)), 'utf8');
  const manifest = Buffer.from(manifestText(files), 'utf8');
  const tags: [string, Buffer][] = [
    ['bagit.txt', Buffer.from(BAGIT_TXT, 'utf8')],
    ['bag-info.txt', bagInfo],
    ['manifest-sha256.txt', manifest],
  ];
  const tagFixity = tags.map(([p, b]) => ({ path: p, size: b.length, sha256: sha256(b).toString('hex') }));
  const tagmanifest = Buffer.from(manifestText(tagFixity), 'utf8');
  const tagmanifestFixity = { path: 'tagmanifest-sha256.txt', size: tagmanifest.length, sha256: sha256(tagmanifest).toString('hex') };
  const put = (s: BagStore, p: string, b: Buffer) =>
    withRetries(`${s.label}: storing ${p}`, attempts, () => s.putFile(p, b, sha256(b))).catch((e) => Promise.reject(storeError(e)));
  for (const [i, s] of stores.entries()) {
    for (const [p, b] of [...payload, ...tags]) await put(s, p, b);
    // Every file is checked before the bag is complete: the tag manifest (what marks an S3 bag as there) and the
    // directory's final name come only after, so a bag that fails the check is left unfinished and the next run
    // stores it again, instead of one that looks finished and that no run may overwrite.
    phase = 'verifying';
    report();
    await s.verify([...files, ...tagFixity], { ...image, parts: partsOf(i) }).catch((err: unknown) => {
      // What was recorded as stored is not what the bag holds (e.g. an upload a stopped run completed, which a store
      // that cannot list parts still took as open): trusted again, every rerun failed the same way. Start afresh.
      if (err instanceof BagVerifyError) saveState(stateFileFor(cacheDir, s.label), { ...states[i], resume: { parts: {} } });
      throw err;
    });
    // Recorded before the bag becomes final: a run killed between that and removing this state recognises the bag.
    states[i].finishing = { files: [...files, ...tagFixity, tagmanifestFixity], image: { size: image.size, sha256: image.sha256, md5: image.md5 } };
    saveState(stateFileFor(cacheDir, s.label), states[i]);
    await refuseFinishedMeanwhile(s, attempts, true); // the last moment: the tag manifest is what makes the bag finished
    await put(s, 'tagmanifest-sha256.txt', tagmanifest);
    await s.verify([tagmanifestFixity], { ...image, parts: partsOf(i) });
    await s.finish();
    log(`${s.label}: bag complete and verified (${files.length + tagFixity.length + 1} files, data/image.sbx ${image.size} bytes, sha256 ${image.sha256})`);
  }

  removeStates();
  phase = 'done';
  report();
  return {
    bags: allBags,
    imageSha256: image.sha256,
    containerBytes: info.containerSize,
    partsStored: sent.size,
    partsAlreadyStored: parts.length - sent.size,
  };
}

/**
 * Reads an open /sbx/image.sbx again in order (from the cache) for its digests; each part must be what was stored:
 * one that differs means the medium's state changed during this run (a retry read a bad sector); the next run checks
 * every stored part against its own container and stores the changed ones again.
 */
async function rehashContainer(c: Container, parts: readonly PartSpec[], records: readonly PartRecord[], size: number, withMd5: boolean): Promise<ImageFixity> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  for (const p of parts) {
    const bytes = await c.read(p.offset, p.size);
    if (bytes.length !== p.size || sha256(bytes).toString('hex') !== records[p.n - 1].sha256) {
      throw new OperationError(
        `/sbx/image.sbx part ${p.n} reads differently now than when it was stored (a sector that was bad has been read since?); ` +
          'the bag is not finished: run the same command again, it stores the changed parts again',
      );
    }
    sha.update(bytes);
    if (withMd5) md5.update(bytes);
  }
  return { size, sha256: sha.digest('hex'), md5: withMd5 ? md5.digest('hex') : '', parts: [...records] };
}

/**
 * The mount's status once its image checksums are complete. Hashing trails the reading (it runs at low priority,
 * from the cache), and a large, fast medium leaves much to hash: given up only after 10 minutes without progress.
 */
async function waitForChecksums(mount: MountAccess): Promise<MountStatusForArchive> {
  let hashed = -1;
  let until = 0;
  for (;;) {
    const st = await mount.status();
    if (!st.checksums || st.checksums.complete) return st;
    if (st.checksums.bytesHashed !== hashed) [hashed, until] = [st.checksums.bytesHashed, Date.now() + 10 * 60_000];
    if (Date.now() > until) throw new OperationError('the mount did not finish the image checksums (no progress for 10 minutes)');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function bagInfoPairs(
  st: MountStatusForArchive,
  info: SbxImageInfo,
  files: readonly FileFixity[],
  opts: ArchiveOptions,
  started: string,
  finished: Date,
): [string, string | number][] {
  const c = st.checksums;
  const pairs: [string, string | number][] = [
    ['Bag-Software-Agent', `blkfs ${opts.toolVersion}`],
    ['Bagging-Date', finished.toISOString().slice(0, 10)],
    ['External-Identifier', `sbx-uid:${info.uid}`],
    ['External-Description', `Image of the medium ${st.server.source} (${st.size} bytes) as a blkar-compatible SBX container, with its ddrescue mapfile`],
    ['Payload-Oxum', payloadOxum(files)],
    ['Bag-Size', humanSize(files.reduce((n, f) => n + f.size, 0))],
    ['Blkfs-Source', st.server.source],
    ['Blkfs-Medium-Size', st.size],
    ['Blkfs-Sector-Size', st.sectorSize],
    ['Blkfs-Bytes-Good', st.bytesCached],
    ['Blkfs-Bytes-Bad', st.bytesBad],
    ['Blkfs-Bytes-Untried', st.bytesUntried + st.bytesNonTrimmed + st.bytesNonScraped],
    ['Blkfs-Image-Name', info.name],
    ['Blkfs-SBX-UID', info.uid],
    ['Blkfs-SBX-Parameters', `version ${info.version}, ${info.dataShards} data + ${info.parityShards} parity shards, burst ${info.burst}, hash ${info.hash}`],
  ];
  if (c?.digests) {
    pairs.push(['Blkfs-Image-CRC32', c.digests.crc32], ['Blkfs-Image-MD5', c.digests.md5], ['Blkfs-Image-SHA1', c.digests.sha1], ['Blkfs-Image-SHA256', c.digests.sha256]);
  }
  if (c?.dat) pairs.push(['Blkfs-DAT-Verdict', c.dat.text]);
  pairs.push(['Blkfs-Archive-Started', started], ['Blkfs-Archive-Finished', finished.toISOString()]);
  for (const [k, v] of opts.bagInfo ?? []) pairs.push([k, v]);
  return pairs;
}

/**
 * UserError when a finished bag (another archive's, under the same name) is at `s` now. `late`: after this archive
 * stored its files, so the two may be mixed; its tag manifest, at least, is not written over.
 */
async function refuseFinishedMeanwhile(s: BagStore, attempts: number, late = false): Promise<void> {
  const there = await withRetries(`${s.label}: looking for a finished bag`, attempts, () => s.bagExists()).catch((e) => Promise.reject(storeError(e)));
  if (!there) return;
  const what = late ? 'its tag manifest is not written over, but the files of the two may be mixed: check that bag' : 'not overwriting it';
  throw new UserError(`${s.label}: a finished bag appeared there while this archive ran (another archive with the same --name?): ${what}; archive under another --name`);
}
