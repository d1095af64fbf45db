// Opening inputs and writing outputs: the one place that loops on partial writes, sizes block devices, and
// says how an existing output is reused.
import * as fs from 'fs';
import { promises as fsp } from 'fs';
import { byteSize } from '../byte-size';
import { keepWhatWasWritten, partialPath, removeStalePartials } from '../partial-file';
import { catchStopSignals } from '../stop-signals';
import { FileReader } from './reader';

/** blkar's `--multi-pass` ('skip-good') and `--multi-pass-no-skip` ('overwrite-all') for decode and sort. */
export type MultiPass = 'skip-good' | 'overwrite-all';

/** Runs `body` with a reader on `path` (size given for block devices) and closes it whatever happens. */
export async function withFileReader<T>(path: string, body: (reader: FileReader) => Promise<T>, size?: number): Promise<T> {
  const reader = await FileReader.open(path, size);
  try {
    return await body(reader);
  } finally {
    await reader.close();
  }
}

/** True iff something (file, directory, dangling link) exists at `p`. */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Size of a file or block device (st_size is 0 for block devices: ask sysfs). */
export async function inputSize(path: string): Promise<number> {
  return byteSize(await fsp.stat(path));
}

/** Writes all of `data` at `position` (a positional write may write less than asked). */
/**
 * Makes what was written durable where that means anything: a regular file or a disk. /dev/null and other special
 * files cannot be synced (EINVAL), and an output there is no failure.
 */
export async function syncStored(handle: fsp.FileHandle): Promise<void> {
  const st = await handle.stat();
  if (st.isFile() || st.isBlockDevice()) await handle.sync();
}

export async function writeFully(handle: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Runs `write` on OUT's handle. A new OUT is written beside it (`OUT.blkfs-partial.PID`) and renamed over it once `write`
 * succeeds, so a run that fails part-way (a full disk, an unreadable input) leaves an earlier OUT as it was; what it
 * wrote is kept (keepWhatWasWritten) and named in the error, as blkar keeps a failed run's output. So it is when a stop
 * signal (Ctrl-C) comes while `write` runs: the error is Interrupted, at once even if `write` waits on its input, and
 * the handle is closed once its writes under way are done. Multi-pass keeps what earlier passes wrote (blkar: OUT
 * opened without truncation, in place), and so is a device. `flags` opens a new OUT.
 */
export async function writeOutput<T>(outPath: string, multiPass: MultiPass | undefined, flags: 'w' | 'w+', write: (handle: fsp.FileHandle) => Promise<T>): Promise<T> {
  const target = await fsp.realpath(outPath).catch(() => outPath);
  const st = await fsp.stat(target).catch(() => undefined);
  const inPlace = !!multiPass || (st !== undefined && !st.isFile());
  const written = inPlace ? target : partialPath(target);
  if (!inPlace) await removeStalePartials(target);
  const stop = catchStopSignals();
  try {
    const handle = await fsp.open(written, multiPass ? fs.constants.O_RDWR | fs.constants.O_CREAT : flags).catch((err: NodeJS.ErrnoException) => {
      if (err.path === written) err.message = err.message.split(written).join(outPath); // the name the user gave
      throw err;
    });
    let result: T;
    try {
      result = await stop.race(write(handle));
    } catch (err) {
      await handle.close().catch(() => undefined); // FileHandle.close waits for the writes under way
      const note = inPlace ? `; what was written is kept in "${outPath}"` : await keepWhatWasWritten(written, target, st !== undefined, outPath);
      const ending = stop.endingError(err);
      if (ending instanceof Error) ending.message += note;
      throw ending;
    }
    await handle.close();
    if (!inPlace) await fsp.rename(written, target);
    return result;
  } finally {
    stop.release();
  }
}
