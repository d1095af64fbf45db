// Opening inputs and writing outputs: the one place that loops on partial writes, sizes block devices, and
// says how an existing output is reused.
import { promises as fsp } from 'fs';
import { byteSize, FileReader } from './reader';

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
export async function writeFully(handle: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
