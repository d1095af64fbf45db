/** Shared helpers of the workflow tests: temp dirs, seeded random bytes, encoding a buffer to a container. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { encodeFile, EncodeOptions } from '../../../src/sbx/encode';
import { xorshift32 } from '../../helpers/seeded-random';

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `blkfs-sbx-${tag}-`));
}

/** xorshift32: the same bytes on every run for a given seed. */
export function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  const next = xorshift32(seed);
  for (let i = 0; i < length; i++) out[i] = next() & 0xff;
  return out;
}

/** Floats in [0, 1) from the same generator. */
export function seededRandom(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x100000000;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `data` to DIR/name.bin and encodes it to DIR/name.<ext>; returns both paths. */
export async function encodeBuffer(
  dir: string,
  name: string,
  data: Buffer,
  opts: EncodeOptions,
): Promise<{ input: string; container: string }> {
  const input = path.join(dir, `${name}.bin`);
  fs.writeFileSync(input, data);
  const container = path.join(dir, `${name}.${(opts.version ?? 17) >= 17 ? 'ecsbx' : 'sbx'}`);
  await encodeFile(input, container, { sdt: 1600000000, fdt: 1600000000, fnm: 'f.bin', snm: 'f.sbx', ...opts });
  return { input, container };
}

/** Zeroes `count` blocks of `blockSize` starting at block index `index`. */
export function zeroBlocks(file: string, index: number, count: number, blockSize: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, Buffer.alloc(count * blockSize), 0, count * blockSize, index * blockSize);
  } finally {
    fs.closeSync(fd);
  }
}
