// Worker-thread side of image-hasher.ts: feeds the image's bytes, in the order they arrive, to ImageDigests, so
// the four hashes (~350 MB/s together on one core) never run on the mount server's event loop. Each buffer is
// transferred here and back (no copy): the caller reuses it for its next read.
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
