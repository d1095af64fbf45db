// The ETA /status shows: the time to the end of what the running acquisition will read (its -i/-s domain, if any).
import { expect } from 'chai';
import type { ByteDomain } from '../../../src/cache/rescue-scope';
import { MapStatus } from '../../../src/server/map-status';

describe('server/map-status: ETA of an acquisition', () => {
  // 16 sectors: 0-3 '+', 4-15 '?'; reading at 512 bytes/s
  const cache = {
    size: 16 * 512,
    sectorSize: 512,
    extents: () => [
      { start: 0, count: 4, status: '+' as const },
      { start: 4, count: 12, status: '?' as const },
    ],
    status: () => ({ bytesUntried: 12 * 512, bytesNonTrimmed: 0, bytesNonScraped: 0, readRateBytesPerSec: 512, currentPos: 0 }),
  };
  it('the whole medium: what is left of it', () => expect(new MapStatus(cache).status().etaSeconds).to.equal(12));
  it('a domain (-i/-s): what is left of the domain only', () => {
    const domain: ByteDomain = { start: 2 * 512, end: 6 * 512 }; // 2 sectors '+', 2 left
    expect(new MapStatus(cache, () => domain).status().etaSeconds).to.equal(2);
  });
});
