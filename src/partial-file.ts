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
 * output): `target` when it did not exist before the run, else `TARGET.incomplete` (`.2`, `.3`… when taken). A hard
 * link never replaces a file, so an earlier output or an input of that name stays whole. Returns the name the bytes
 * are under (`written` itself when no link could be made: a filesystem without hard links).
 */
export async function keepPartial(written: string, target: string, targetExisted: boolean): Promise<string> {
  const names = [...(targetExisted ? [] : [target]), `${target}.incomplete`, ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${target}.incomplete.${n}`)];
  for (const name of names) {
    try {
      await fsp.link(written, name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      return written;
    }
    await fsp.rm(written, { force: true });
    return name;
  }
  return written;
}
