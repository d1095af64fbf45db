// The kernel's page cache of a block device can hold another disc's bytes: a read of a loop device that races
// LOOP_CHANGE_FD leaves pages of the old backing file behind (invalidate_bdev skips pages locked for a read), and
// every later buffered read of those offsets, nbdkit's included, returns the old disc (measured: 715 stale pages in
// 200 swaps under 3 reading threads). Dropping the device's clean pages before reading a medium (at open and before
// identifying it after a change) reads the disc that is there. A read-only open: nothing is written to the device.
import { spawn } from 'child_process';
import { cLocaleEnv, withoutFuseFds } from '../clean-spawn';
import { SourceLostError } from './block-source';

/**
 * posix_fadvise(DONTNEED) over the whole device, through GNU dd (`iflag=nocache count=0`: Node has no fadvise).
 * Rejects with SourceLostError when it cannot be done (reading on could serve another disc's bytes); resolves for a
 * drive without a medium.
 */
export function dropPageCache(device: string): Promise<void> {
  const { command, args } = withoutFuseFds('dd', [`if=${device}`, 'iflag=nocache', 'count=0', 'status=none']);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: cLocaleEnv() }); // messages read below
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d.slice(0, 1000)));
    const fail = (why: string) => reject(new SourceLostError(`cannot drop the kernel's cached pages of ${device} (${why}): its reads could return the previous disc's bytes`));
    child.on('error', (e) => fail(e.message));
    // An empty drive (ENOMEDIUM) or a loop device without a file (ENXIO) has nothing to read: its own reads say so.
    const nothingThere = () => /No medium found|No such device or address/.test(stderr);
    child.on('close', (code) => (code === 0 || nothingThere() ? resolve() : fail(stderr.trim() || `dd exit ${code}`)));
  });
}
