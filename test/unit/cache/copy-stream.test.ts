// The copying pass's span buffers: reused once a span's settle is over, for short spans too (a view of one).
import { expect } from 'chai';
import { CopyStream } from '../../../src/cache/copy-stream';

const SPAN = 4 * 1024 * 1024;

/** Whether two buffers share memory (span buffers are cut from larger slabs: one ArrayBuffer holds several). */
function overlap(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

describe('cache/copy stream', () => {
  it('reads a span cut short into a view of a reused span buffer, and takes the whole buffer back', async () => {
    const stream = new CopyStream(SPAN, () => undefined);
    const first = stream.bufferFor(SPAN) as Buffer;
    await stream.follow(Promise.resolve(), undefined, first);
    const short = stream.bufferFor(SPAN - 512) as Buffer;
    expect(short.length).to.equal(SPAN - 512);
    expect(short.buffer).to.equal(first.buffer);
    expect(short.byteOffset).to.equal(first.byteOffset);
    await stream.follow(Promise.resolve(), undefined, short);
    const again = stream.bufferFor(SPAN) as Buffer;
    expect(again).to.equal(first);
  });

  it('gives no reused buffer for a span larger than its span size, and none back before the settle is over', async () => {
    const stream = new CopyStream(SPAN, () => undefined);
    expect(stream.bufferFor(SPAN + 512)).to.equal(undefined);
    const held = stream.bufferFor(SPAN) as Buffer;
    let settle!: () => void;
    const following = stream.follow(new Promise<void>((r) => (settle = r)), undefined, held);
    expect(overlap(stream.bufferFor(SPAN) as Buffer, held)).to.equal(false);
    settle();
    await following;
  });

  it('cuts new span buffers from slabs, none overlapping another while held', () => {
    const stream = new CopyStream(SPAN, () => undefined);
    const held = Array.from({ length: 10 }, () => stream.bufferFor(SPAN) as Buffer);
    expect(held[1].buffer, 'the second buffer from the first one\'s slab').to.equal(held[0].buffer);
    for (let i = 0; i < held.length; i++) for (let j = i + 1; j < held.length; j++) expect(overlap(held[i], held[j]), `buffers ${i} and ${j}`).to.equal(false);
  });
});
