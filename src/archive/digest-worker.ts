// Worker-thread side of image-hasher.ts: feeds the image's bytes, in the order they arrive, to ImageDigests, so
// the four hashes (~350 MB/s together on one core) never run on the mount server's event loop. Each buffer is
// transferred here and back (no copy): the caller reuses it for its next read.
import { readlinkSync } from 'fs';
import { setPriority } from 'os';
import { parentPort } from 'worker_threads';
import { ImageDigests, ImageDigestValues } from './image-digests';

export type DigestRequest =
  | { kind: 'bytes'; buffer: ArrayBuffer; length: number }
  | { kind: 'zeros'; count: number }
  | { kind: 'digest' }
  | { kind: 'reset' };

export type DigestReply = { kind: 'free'; buffer: ArrayBuffer } | { kind: 'digests'; values: ImageDigestValues };

const port = parentPort;
if (!port) throw new Error('digest-worker.js runs as a worker thread');
let digests = new ImageDigests();

/**
 * Linux keeps a nice value per thread: this one yields the CPU to the device reads, the cache's writes and the FUSE
 * server (on a machine with few cores the hashing would otherwise slow the acquisition) and catches up when they
 * pause. Best effort: elsewhere it simply runs at the process's priority.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'))?.[1]);
    if (tid > 0) setPriority(tid, 10);
  } catch {
    // not Linux, or not allowed: normal priority
  }
}
lowerThreadPriority();

port.on('message', (m: DigestRequest) => {
  switch (m.kind) {
    case 'bytes':
      digests.update(new Uint8Array(m.buffer, 0, m.length));
      port.postMessage({ kind: 'free', buffer: m.buffer } satisfies DigestReply, [m.buffer]);
      break;
    case 'zeros':
      digests.zeros(m.count);
      break;
    case 'digest':
      port.postMessage({ kind: 'digests', values: digests.digest() } satisfies DigestReply);
      digests = new ImageDigests();
      break;
    case 'reset':
      digests = new ImageDigests();
      break;
  }
});
