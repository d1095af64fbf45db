// --nbdkit-filter (mount): a filter name or a key=value parameter, handed to nbdkit after the file plugin and its
// file= parameter. Checked when the command line is read (exit 1): an argument starting with "-" is taken by nbdkit
// as one of its own options (--run=CMD runs a command), and a file= or dir= parameter replaces the source, so blkfs
// would serve, and cache under this medium's name, another file's bytes. Filters that keep the medium's bytes between
// reads (cache, cow) are refused too: after a disc change nbdkit would answer the removed disc's bytes, to the
// identification and to readers, and they would be stored as the new disc's. blkfs is the cache (and --readahead
// its prefetch).
import { InvalidArgumentError } from 'commander';

const SOURCE_KEYS = ['file', 'dir'];
const BYTE_KEEPING_FILTERS = ['cache', 'cow'];

export function collectNbdkitFilterArg(arg: string, earlier: string[]): string[] {
  if (arg === '' || arg.startsWith('-')) {
    throw new InvalidArgumentError('give a filter name (e.g. delay) or a key=value parameter of a filter (e.g. delay-read=1s), not an nbdkit option');
  }
  const key = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : undefined;
  if (key === '') throw new InvalidArgumentError('a filter parameter needs a key before "="');
  if (key !== undefined && SOURCE_KEYS.includes(key)) {
    throw new InvalidArgumentError(`${key}= would replace the source given as SOURCE: give the medium as SOURCE`);
  }
  if (BYTE_KEEPING_FILTERS.includes(arg)) {
    throw new InvalidArgumentError(
      `the ${arg} filter keeps the medium's bytes inside nbdkit: after a disc change they would be answered as the new disc's. blkfs keeps every byte it reads itself (--readahead sets its prefetch)`,
    );
  }
  return [...earlier, arg];
}
