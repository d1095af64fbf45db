import { expect } from 'chai';
import { RateMeter } from '../../../src/cache/rate-meter';

describe('cache/rate-meter RateMeter', () => {
  it('is the bytes of the last window over the time they took (at least one second)', () => {
    let now = 0;
    const m = new RateMeter(10_000, () => now);
    expect(m.bytesPerSecond()).to.equal(0);
    m.add(500);
    expect(m.bytesPerSecond(), 'a lone sample counts over one second').to.equal(500);
    now = 4000;
    m.add(1500);
    expect(m.bytesPerSecond()).to.equal(500);
    now = 12_000; // the first sample has left the window
    expect(m.bytesPerSecond()).to.equal(1500 / 8);
    now = 30_000;
    expect(m.bytesPerSecond()).to.equal(0);
  });

  it('a window under a second counts over itself: a reading that just began is seen at its rate at once', () => {
    let now = 0;
    const m = new RateMeter(250, () => now);
    for (let i = 0; i < 15; i++) {
      now += 7; // 2 MiB every 7 ms: ~300 MB/s for 105 ms
      m.add(2 * 1024 * 1024);
    }
    expect(m.bytesPerSecond()).to.equal((15 * 2 * 1024 * 1024) / 0.25);
    now += 300; // the reading stopped: its samples have left the window
    expect(m.bytesPerSecond()).to.equal(0);
  });

  it('keeps up with a fast source: 100,000 samples in the window, old ones dropped', () => {
    let now = 0;
    const m = new RateMeter(10_000, () => now);
    for (let i = 0; i < 300_000; i++) {
      now += 0.1;
      m.add(100);
    }
    // the window holds the last 10 s: 100,000 samples of 100 bytes
    expect(m.bytesPerSecond()).to.be.closeTo(1_000_000, 200);
  });
});
