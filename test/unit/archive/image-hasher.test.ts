import { expect } from 'chai';
import { Worker } from 'worker_threads';
import { HasherFailedError, ImageHasher, MainThreadHasher, WorkerHasher } from '../../../src/archive/image-hasher';
import { digestsOf } from '../../helpers/image-digests';
import { patternBuffer } from '../../helpers/memory-source';

/** Feeds `image` in pieces of `piece` bytes through buffers taken from the hasher; [zeroFrom, zeroTo) as zeros. */
async function feedImage(h: ImageHasher, image: Buffer, piece: number, zeroFrom: number, zeroTo: number): Promise<void> {
  for (let at = 0; at < image.length; ) {
    if (at === zeroFrom) {
      await h.zeros(zeroTo - zeroFrom);
      at = zeroTo;
      continue;
    }
    const buf = await h.take();
    const end = Math.min(image.length, at + piece, buf.length + at, at < zeroFrom ? zeroFrom : image.length);
    image.copy(buf, 0, at, end);
    await h.feed(buf, end - at);
    at = end;
  }
}

describe('archive/image-hasher', () => {
  const MiB = 1 << 20;
  const image = patternBuffer(13 * MiB + 777);
  const expected = Buffer.from(image).fill(0, 5 * MiB + 512, 7 * MiB + 1024);

  for (const [name, make] of [
    ['in a worker thread', () => WorkerHasher.start()!],
    ['on the calling thread', () => new MainThreadHasher()],
  ] as const) {
    it(`${name}: the digests equal crypto's over the same bytes, unreadable runs as zeros, and the next image starts afresh`, async () => {
      const h = make();
      try {
        await feedImage(h, image, 3 * MiB + 5, 5 * MiB + 512, 7 * MiB + 1024);
        expect(await h.digest()).to.deep.equal(digestsOf(expected));
        const small = image.subarray(0, 1000);
        await feedImage(h, small, MiB, -1, -1);
        expect(await h.digest()).to.deep.equal(digestsOf(small));
        await feedImage(h, small, MiB, -1, -1);
        h.reset();
        await feedImage(h, image.subarray(0, 3000), MiB, -1, -1);
        expect(await h.digest()).to.deep.equal(digestsOf(image.subarray(0, 3000)));
      } finally {
        await h.close();
      }
    });
  }

  it('a worker that dies fails its pending and later calls with HasherFailedError, never with a digest', async () => {
    const h = WorkerHasher.start()!;
    const buf = await h.take();
    await h.feed(buf, 1000);
    // A malformed message makes the worker throw, as any uncaught error in it would; the digest asked after it
    // is never computed.
    (h as unknown as { worker: Worker }).worker.postMessage({ kind: 'bytes', buffer: null, length: 5 });
    expect(await h.digest().catch((e: unknown) => e)).to.be.instanceOf(HasherFailedError);
    expect(await h.take().catch((e: unknown) => e)).to.be.instanceOf(HasherFailedError);
    await h.close();
    expect(h.running).to.equal(false);
  });
});
