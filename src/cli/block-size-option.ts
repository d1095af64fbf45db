// --block-size (mount, import): checked when the command line is read, so any bad value (abc, 1000, 0) is exit 1
// with the sizes blkfs accepts, before a source or cache is touched.
import { InvalidArgumentError } from 'commander';
import { MAX_SECTOR_SIZE, MIN_SECTOR_SIZE } from '../source/sector-size';

const ACCEPTED: number[] = [];
for (let n = MIN_SECTOR_SIZE; n <= MAX_SECTOR_SIZE; n *= 2) ACCEPTED.push(n);

export function parseBlockSize(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !ACCEPTED.includes(n)) {
    throw new InvalidArgumentError(`--block-size must be a power of two from ${MIN_SECTOR_SIZE} to ${MAX_SECTOR_SIZE} bytes: ${ACCEPTED.join(', ')}`);
  }
  return n;
}
