// The copying pass's span buffers: reused once a span's settle is over, for short spans too (a view of one).
import { expect } from 'chai';
import { CopyStream } from '../../../src/cache/copy-stream';

const SPAN = 4 * 1024 * 1024;

describe('cache/copy stream', () => {
  it('reads a span cut short into a view of a reused span buffer, and takes the whole buffer back', async () => {
    const stream = new CopyStream(SPAN, () => undefined);
    const first = stream.bufferFor(SPAN) as Buffer;
    await stream.follow(Promise.resolve(), undefined, first);
    const short = stream.bufferFor(SPAN - 512) as Buffer;
    expect(short.length).to.equal(SPAN - 512);
    expect(short.buffer).to.equal(first.buffer);
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
    expect((stream.bufferFor(SPAN) as Buffer).buffer).to.not.equal(held.buffer);
    settle();
    await following;
  });
});
