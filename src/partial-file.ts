// Where an output is written before it is renamed over its path, for every layer (a leaf: imports nothing of ours).
// The name carries the writer's pid: two commands writing one output at once each write a file of their own and the
// last rename wins whole (one shared partial file mixed their bytes, and the second rename failed). A partial file
// whose writer is gone (killed mid-write) is removed by the next writer of that output.
import { promises as fsp } from 'fs';
import * as path from 'path';

const MARK = '.blkfs-partial.';

/** The file this process writes a new `target` into (beside it, so the rename stays on one filesystem). */
export function partialPath(target: string): string {
  return `${target}${MARK}${process.pid}`;
}

/** The pid in `file`'s name when it is a partial file of `target` (TARGET.blkfs-partial.PID beside it), else undefined. */
export function partialWriterOf(file: string, target: string): number | undefined {
  if (path.dirname(path.resolve(file)) !== path.dirname(path.resolve(target))) return undefined;
  const name = path.basename(file);
  const prefix = path.basename(target) + MARK;
  const pid = name.startsWith(prefix) ? name.slice(prefix.length) : '';
  return /^[1-9][0-9]{0,9}$/.test(pid) ? Number(pid) : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the partial files of `target` whose writers are gone. Best effort: a directory it cannot read is left. */
export async function removeStalePartials(target: string): Promise<void> {
  const dir = path.dirname(target);
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = partialWriterOf(path.join(dir, name), target);
    if (pid !== undefined && pid !== process.pid && !alive(pid)) await fsp.rm(path.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/**
 * Gives the partial file `written` of a failed run a lasting name, for the data it holds (blkar keeps a failed run's
 * output): `target` when it did not exist before the run, else the first free `TARGET.incomplete`, `.2`, `.3`… A hard
 * link never replaces a file, so an earlier output or an input of that name stays whole; on a filesystem without hard
 * links (vfat, exFAT) the file is renamed to a name seen free. Left under its partial name (which the next writer of
 * `target` removes) only when it cannot be renamed at all: the name returned says where the bytes are.
 */
async function keepPartial(written: string, target: string, targetExisted: boolean): Promise<string> {
  const free = (name: string) => fsp.lstat(name).then(() => false, () => true);
  for (let n = targetExisted ? 1 : 0; ; n++) {
    const name = n === 0 ? target : n === 1 ? `${target}.incomplete` : `${target}.incomplete.${n}`;
    try {
      await fsp.link(written, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      if (!(await free(name))) continue;
      return fsp.rename(written, name).then(() => name, () => written);
    }
    await fsp.rm(written, { force: true });
    return name;
  }
}

/**
 * After a failed run: the partial file `written` kept by keepPartial() when it holds bytes, else removed (no empty
 * output). Returns what the run's message adds about it (`shown`: the name the user gave for `target`), or ''.
 */
export async function keepWhatWasWritten(written: string, target: string, targetExisted: boolean, shown: string): Promise<string> {
  if (!(await fsp.stat(written).then((s) => s.size > 0, () => false))) {
    await fsp.rm(written, { force: true });
    return '';
  }
  const kept = await keepPartial(written, target, targetExisted);
  if (kept === written) return `; what was written is in "${written}" until ${shown} is written again (it could not be renamed)`;
  return `; what was written is kept in "${kept === target ? shown : kept}"`;
}
