import { expect } from 'chai';
import { DeviceReader } from '../../../src/cache/device-reader';
import type { BlockSource } from '../../../src/source/block-source';

/** A medium whose reads end when the test says so. */
function heldSource(): { source: BlockSource; endAll: () => void } {
  const pending: (() => void)[] = [];
  const source: BlockSource = {
    size: 1 << 20,
    sectorSize: 512,
    read: (_offset: number, length: number) => new Promise<Buffer>((resolve) => pending.push(() => resolve(Buffer.alloc(length)))),
    stats: () => ({ reads: 0, bytes: 0, failedReads: 0, lostReads: 0, transientReads: 0, reconnects: 0 }),
    close: async () => {},
  };
  return { source, endAll: () => pending.splice(0).forEach((end) => end()) };
}

describe('cache/device-reader DeviceReader', () => {
  it("the read rate is 0 once nothing has been read for a second and nothing is in flight (no ETA for work that stopped), not the last 10 s's average", async () => {
    let now = 0;
    const { source, endAll } = heldSource();
    const dev = new DeviceReader(source, 4, () => now);
    const first = dev.readSectors(0, 128, 'background');
    endAll();
    await first;
    now = 500;
    expect(dev.readRate(), 'just read').to.equal(65536);
    const slow = dev.readSectors(128, 256, 'background');
    now = 5000;
    expect(dev.readRate(), 'a read still in flight (a slow sector): the window').to.equal(65536 / 5);
    endAll();
    await slow;
    now = 5900;
    expect(dev.readRate()).to.be.greaterThan(0);
    now = 6100;
    expect(dev.readRate(), 'idle for over a second').to.equal(0);
    expect(dev.rate.bytesPerSecond(), 'the 10 s window itself still has both reads').to.be.greaterThan(0);
  });
});
