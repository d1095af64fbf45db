// Outputs never destroy inputs: before a command writes a file it checks that the file is not one of its inputs
// (same device and inode, symlinks followed; for an output that does not exist yet, its real parent plus name)
// and does not lie inside a blkfs cache directory (recognised by its state database), which holds someone's
// rescued data. A refusal is a UserError (exit 1) naming both paths.
import * as fs from 'fs';
import * as path from 'path';
import { STATE_FILE } from '../cache/cache-paths';
import { mountEntries } from '../fuse/mountinfo';
import { UserError } from '../errors';
import { openFiles, readProcText } from '../proc-fds';
import { keepWhatWasWritten, partialPath, partialWriterOf, removeStalePartials } from '../partial-file';
import { catchStopSignals } from '../stop-signals';

/** The path a write to `p` would land on: its real path, or (not existing yet) its parent's real path plus its name. */
function landingPath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(path.resolve(p))), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/**
 * The sysfs directory of the whole disk the block device `rdev` is (or is a partition of), or null. A partition and
 * its disk are different device files over the same medium.
 */
export function wholeDiskOf(rdev: number, sys = '/sys'): string | null {
  const major = (rdev >>> 8) & 0xfff;
  const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
  let dir: string;
  try {
    dir = fs.realpathSync(path.join(sys, 'dev', 'block', `${major}:${minor}`));
  } catch {
    return null;
  }
  return fs.existsSync(path.join(dir, 'partition')) ? path.dirname(dir) : dir;
}

/** True iff `output` and `input` are block devices over one disk (the same, or one a partition of the other's disk). */
function onSameDisk(output: string, input: string): boolean {
  const o = statOrNull(output);
  const i = statOrNull(input);
  if (!o?.isBlockDevice() || !i?.isBlockDevice()) return false;
  const disk = wholeDiskOf(o.rdev);
  return disk !== null && disk === wholeDiskOf(i.rdev);
}

/** True iff writing `output` would write the file `input` (both following symlinks). */
export function isSameFile(output: string, input: string): boolean {
  const i = statOrNull(input);
  if (!i) return false;
  const o = statOrNull(output);
  if (o) return o.dev === i.dev && o.ino === i.ino;
  return landingPath(output) === landingPath(input);
}

/** The blkfs cache directory `p` lies in (it or an ancestor holds the state database), or null. */
export function cacheDirHolding(p: string): string | null {
  let dir = path.dirname(landingPath(p));
  for (;;) {
    if (fs.existsSync(path.join(dir, STATE_FILE))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The blkfs mount `p` would be written into (its directory or an ancestor is one), or null. */
export function blkfsMountHolding(p: string): string | null {
  const mounts = new Set(mountEntries().filter((m) => m.fstype === 'fuse.blkfs').map((m) => m.mountpoint));
  if (mounts.size === 0) return null;
  for (let dir = path.dirname(landingPath(p)); ; dir = path.dirname(dir)) {
    if (mounts.has(dir)) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * The loop device whose backing file `output` is, or null. A loop device is a drive and its backing file the
 * disc in it (blkfs mounts of /dev/loopN, media swapped with LOOP_CHANGE_FD): writing that file destroys the
 * medium, though the path names neither a device nor a mount.
 */
export function loopDeviceBackedBy(output: string, except: readonly string[] = []): string | null {
  const o = statOrNull(output);
  if (!o) return null;
  let names: string[];
  try {
    names = fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
  } catch {
    return null;
  }
  for (const name of names) {
    let backing: string;
    try {
      backing = fs.readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // nothing attached
    }
    const b = statOrNull(backing);
    if (!b || b.dev !== o.dev || b.ino !== o.ino) continue;
    if (!except.includes(realpathOrSelf(`/sys/block/${name}`))) return `/dev/${name}`;
  }
  return null;
}

function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The backing file of the loop device `rdev` (or of the loop device it is a partition of), or null. */
function loopBackingOf(rdev: number): string | null {
  const disk = wholeDiskOf(rdev);
  if (disk === null) return null;
  try {
    return fs.readFileSync(path.join(disk, 'loop', 'backing_file'), 'utf8').trim();
  } catch {
    return null; // not a loop device, or nothing attached
  }
}

/**
 * The files a write to `output` lands in: itself and, when it is a loop device, its backing file (and so on, a loop
 * over a loop). A loop device named as an output writes that file: an input, a cache's data file, a served medium.
 */
export function writtenFiles(output: string): string[] {
  const files = [output];
  for (let st = statOrNull(output); st?.isBlockDevice() && files.length < 8; ) {
    const backing = loopBackingOf(st.rdev);
    if (backing === null) break;
    files.push(backing);
    st = statOrNull(backing);
  }
  return files;
}

/** Programs that serve a file as a block device: a file one of them holds open is someone's medium. */
const BLOCK_SERVERS = new Set(['nbdkit', 'qemu-nbd', 'nbd-server', 'qemu-storage-d', 'qemu-system-x86']);

/**
 * The NBD server (or emulator) holding the existing file or block device `output` open, as "nbdkit (pid N)", or null.
 * A mount of an NBD URI names no file, yet the file its server serves is the medium, and so is a device a blkfs mount
 * reads through its nbdkit: writing it destroys the medium under the mount.
 */
export function blockServerHolding(output: string): string | null {
  const o = statOrNull(output);
  if (!o?.isFile() && !o?.isBlockDevice()) return null;
  const target = landingPath(output);
  // A device is held as itself, or as another device file of its disk (a partition, the whole disk).
  const disk = o.isBlockDevice() ? wholeDiskOf(o.rdev) : null;
  const held = (t: string): boolean => {
    if (t === target) return true;
    if (disk === null || !t.startsWith('/dev/')) return false;
    const st = statOrNull(t);
    return !!st?.isBlockDevice() && wholeDiskOf(st.rdev) === disk;
  };
  for (const f of openFiles(held)) {
    const name = readProcText(`/proc/${f.pid}/comm`).trim();
    if (BLOCK_SERVERS.has(name)) return `${name} (pid ${f.pid})`;
  }
  return null;
}

/**
 * Refuses (UserError) when two outputs are one file, or any output is one of the inputs, the backing file of a
 * loop device, a file an NBD server holds open, or lies inside a blkfs cache directory or mount.
 */
export function guardOutputs(outputs: readonly string[], inputs: readonly string[]): void {
  outputs.forEach((out, i) => {
    const other = outputs.slice(0, i).find((earlier) => isSameFile(out, earlier) || landingPath(out) === landingPath(earlier));
    if (other !== undefined) throw new UserError(`Refusing to write "${out}" twice: it is also the output "${other}" (give two different files)`);
  });
  for (const output of outputs) {
    const files = writtenFiles(output);
    files.forEach((file, k) => guardWrittenFile(output, file, inputs, files.slice(0, k)));
  }
}

/**
 * guardOutputs' checks of one file a write to `output` lands in (`file`: the output itself, or the backing file of
 * the loop device `through` ends with); the loop devices it is written through are no other drive holding it.
 */
function guardWrittenFile(output: string, out: string, inputs: readonly string[], through: readonly string[]): void {
  const refuse = (why: string) =>
    new UserError(`Refusing to write "${output}"${through.length === 0 ? '' : ` (the loop device over "${out}")`}: ${why}`);
  // A backing file sysfs names "… (deleted)" (its name unlinked, the file perhaps alive under another) or one this
  // process cannot see: nothing tells whether it is an input.
  if (through.length > 0 && statOrNull(out) === null) throw refuse('its backing file cannot be looked at, so it may be an input or a medium; detach it or name another output');
  for (const input of inputs) {
    if (isSameFile(out, input)) throw refuse(`it is the input "${input}" (writing it would destroy the input)`);
    // A new OUT is written into OUT.blkfs-partial.PID beside it (replaceOnSuccess here, writeOutput in src/sbx/file-io.ts,
    // stageWhole in src/cache/import-export.ts), and such a file whose process is gone is removed.
    if (through.length === 0 && partialWriterOf(input, landingPath(out)) !== undefined) {
      throw refuse(
        `the input "${input}" is named as a partial file of it (${path.basename(landingPath(out))}.blkfs-partial.PID), which blkfs removes once its process is gone (rename the input)`,
      );
    }
    if (onSameDisk(out, input)) throw refuse(`it is on the same disk as the input "${input}" (writing it would destroy the input)`);
  }
  // The loop devices written through (a partition's whole loop device) are not another drive holding the file.
  const drives = through.map((d) => statOrNull(d)).map((st) => (st?.isBlockDevice() ? wholeDiskOf(st.rdev) : null));
  const loop = loopDeviceBackedBy(out, drives.filter((d): d is string => d !== null));
  if (loop !== null) throw refuse(`it is the backing file of ${loop}, the medium in that drive (writing it would destroy the medium)`);
  const server = blockServerHolding(out);
  if (server !== null) throw refuse(`${server} has it open, serving it as a medium (writing it would destroy the medium)`);
  const mount = blkfsMountHolding(out);
  if (mount !== null) throw refuse(`it lies inside the blkfs mount "${mount}", which is read-only (write it elsewhere)`);
  const cache = cacheDirHolding(out);
  if (cache !== null) throw refuse(`it lies inside the blkfs cache directory "${cache}", which holds rescued data`);
}

/**
 * `-` as the output: standard output redirected to a file or a disk (`> IN`, `1<> IN`) gets the checks of a named
 * output; a pipe or a terminal needs none.
 */
export function guardStandardOutput(inputs: readonly string[]): void {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(1);
  } catch {
    return;
  }
  if (!st.isFile() && !st.isBlockDevice()) return;
  try {
    guardOutputs(['/proc/self/fd/1'], inputs);
  } catch (e) {
    throw e instanceof UserError ? new UserError(e.message.replace('"/proc/self/fd/1"', 'standard output')) : e;
  }
}

/**
 * Refuses (UserError) an output that is `device`, the block device a cache's medium was last read through (its
 * record in the cache), or another device of its disk: blkfs never writes a medium, mounted or not.
 */
export function guardMediumDevice(outputs: readonly string[], device: string): void {
  for (const out of outputs) {
    if (writtenFiles(out).some((f) => isSameFile(f, device) || onSameDisk(f, device))) {
      throw new UserError(`Refusing to write "${out}": it is ${device}, the device this cache's medium was read through, or a device of its disk (writing it would destroy the medium)`);
    }
  }
}

/** The medium file or device a blkfs mount reads (its /status names it), as an input an export must not overwrite; none for an NBD URI. */
export function mountedSource(source: string | undefined): string[] {
  return source !== undefined && !source.includes('://') ? [source] : [];
}

/** Refuses (UserError) an input that is a file of the cache directory about to be written (e.g. its own data file). */
export function guardCacheInputs(cacheDir: string, inputs: readonly string[]): void {
  const root = landingPath(cacheDir);
  // Its files under other names too (a hard link, a loop device over one): the data file reads zeros where nothing is cached.
  const own = fs.readdirSync(root).map((n) => statOrNull(path.join(root, n))).filter((st): st is fs.Stats => st !== null && st.isFile());
  const isOwn = (st: fs.Stats | null) => st !== null && own.some((o) => o.dev === st.dev && o.ino === st.ino);
  for (const input of inputs) {
    const st = statOrNull(input);
    const backing = st?.isBlockDevice() ? loopBackingOf(st.rdev) : null;
    if (
      path.dirname(landingPath(input)).startsWith(root + path.sep) ||
      path.dirname(landingPath(input)) === root ||
      isOwn(st) ||
      (backing !== null && isOwn(statOrNull(backing)))
    ) {
      throw new UserError(`Refusing to read "${input}": it is a file of the cache "${cacheDir}" that this command writes`);
    }
  }
}

/**
 * Runs `write` on a file beside `out`, renamed over `out` once `write` succeeds: a command that fails part-way (a
 * full disk, a damaged input) leaves an earlier `out` as it was instead of destroying it. What it wrote is removed,
 * or with `keep` (blkar's rule for its outputs) kept (keepWhatWasWritten) and named in the error. A stop signal
 * (Ctrl-C) aborts `stop`: `write` ends soon on it, its writes under way done, and the run ends Interrupted with what
 * was written treated the same way. A symlink's target is the output; a device (anything but a regular file) is
 * written in place.
 */
export async function replaceOnSuccess<T>(out: string, write: (file: string, stop?: AbortSignal) => Promise<T>, keep = false): Promise<T> {
  const target = await fs.promises.realpath(out).catch(() => out);
  const st = await fs.promises.stat(target).catch(() => undefined);
  if (st && !st.isFile()) return write(target);
  const partial = partialPath(target);
  await removeStalePartials(target);
  const stop = catchStopSignals();
  try {
    const result = await write(partial, stop.signal);
    await fs.promises.rename(partial, target);
    return result;
  } catch (err) {
    // A system error names the file the user gave (ENOENT of a missing directory, EACCES…), not the one beside it.
    const e = err as NodeJS.ErrnoException;
    if (e instanceof Error && e.path === partial) {
      e.message = e.message.split(partial).join(out);
      e.path = out;
    }
    const note = keep ? await keepWhatWasWritten(partial, target, st !== undefined, out) : '';
    if (!keep) await fs.promises.rm(partial, { force: true });
    const ending = stop.endingError(err);
    if (ending instanceof Error) ending.message += note;
    throw ending;
  } finally {
    stop.release();
  }
}

/**
 * Refuses (UserError) a SOURCE file that lies inside a blkfs cache directory: a cache's data file is no medium (its
 * holes read as zeros, which a cache would store as the medium's bytes), and as the source of its own cache every
 * sector not yet read would be stored as zeros.
 */
/**
 * Refuses (UserError) an import IMAGE that is the device SOURCE itself (or another device of its disk): reading it
 * would read the medium again, outside the cache (rule 3). An image file that is the medium file is harmless.
 */
export function guardImageNotMedium(image: string, source: string): void {
  const i = statOrNull(image);
  const s = statOrNull(source);
  const isDevice = (st: fs.Stats | null) => !!st && (st.isBlockDevice() || st.isCharacterDevice());
  if (!isDevice(i) || !isDevice(s) || (i!.rdev !== s!.rdev && !onSameDisk(image, source))) return;
  throw new UserError(
    `Refusing to read "${image}" as IMAGE: it is the medium "${source}" (or a device of its disk), which blkfs reads once, through its cache; IMAGE is a rescue of it (ddrescue's output)`,
  );
}

export function guardSourceOutsideCaches(source: string): void {
  if (source.includes('://') || !fs.existsSync(source)) return;
  const cache = cacheDirHolding(source);
  if (cache !== null) {
    throw new UserError(
      `Refusing to read "${source}" as a medium: it is a file of the blkfs cache "${cache}", where sectors never read are zeros (blkfs export --cache ${cache} OUT.img gives an image and its mapfile)`,
    );
  }
}
