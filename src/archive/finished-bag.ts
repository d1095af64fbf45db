// A bag already under its final name where an archive is to write: an earlier run of this archive may have made it
// final and been stopped (kill -9) before it removed its resume state. Only a bag proven to be exactly that one is
// taken as done; any other is never overwritten.
import type { ArchiveState } from './archive-state';
import { loadState, stateFileFor } from './archive-state';
import { BagStore, ImageFixity, PartRecord, storeError } from './bag-store';
import { BagVerifyError } from './dir-store';
import type { PartSpec } from './part-plan';
import { UserError } from '../errors';

/**
 * The destinations where a bag is already there. Each must be this archive's own bag, finished by an earlier run that
 * was stopped (kill -9) after making it final but before removing its state: the state recorded every file of it,
 * and the bag must hold exactly those. Any other bag is never overwritten (exit 1).
 */
export async function finishedEarlier(
  stores: readonly BagStore[],
  parts: readonly PartSpec[],
  cacheDir: string,
  expectOf: (s: BagStore) => Pick<ArchiveState, 'label' | 'uid' | 'containerSize' | 'partSize'>,
): Promise<Map<BagStore, ImageFixity>> {
  const done = new Map<BagStore, ImageFixity>();
  for (const s of stores) {
    if (!(await s.bagExists())) continue;
    const saved = loadState(stateFileFor(cacheDir, s.label), expectOf(s));
    const records = parts.map((p) => saved?.resume.parts[p.n]);
    // A state written before states recorded the finished bag: a directory bag is checked by its own manifests.
    const byOwnManifests = saved !== undefined && !saved.finishing && records.every((r) => r !== undefined) && s.verifyOwnManifests !== undefined;
    if (!saved?.finishing && !byOwnManifests) throw new UserError(`${s.label}: a bag is already there; not overwriting it`);
    let image: ImageFixity;
    try {
      if (saved!.finishing) {
        image = { ...saved!.finishing.image, parts: records as PartRecord[] };
        await s.verifyFinished(saved!.finishing.files, image);
      } else {
        const sha256 = await s.verifyOwnManifests!(records as PartRecord[]);
        image = { size: records.reduce((n, r) => n + r!.size, 0), sha256, md5: '', parts: records as PartRecord[] };
      }
    } catch (err) {
      if (!(err instanceof BagVerifyError)) throw storeError(err);
      throw new UserError(`${s.label}: a bag is already there, and it is not the one this archive finished (${err.message}); not overwriting it`);
    }
    done.set(s, image);
  }
  return done;
}
