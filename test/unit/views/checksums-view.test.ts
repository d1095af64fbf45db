// /checksums: `stat` (no handle open) states the size an open gives now, whatever part of the state changed.
import { expect } from 'chai';
import type { ChecksumState } from '../../../src/archive/checksum-tracker';
import { ChecksumsView } from '../../../src/views/checksums-view';

describe('/checksums view', () => {
  it('stat states the size of what an open gives, also after the hashing starts or stops waiting for a fast read', async () => {
    const state: ChecksumState = { size: 1 << 20, bytesHashed: 65536, bytesBad: 0, bytesMissing: (1 << 20) - 65536, complete: false, waiting: false };
    const view = new ChecksumsView({ state: () => state, verdict: () => undefined, imageName: () => 'medium.img' });
    for (const waiting of [false, true, false]) {
      state.waiting = waiting;
      const { size } = await view.getattr();
      const h = await view.open();
      expect(size, `waiting ${waiting}`).to.equal(view.sizeOf(h));
      await view.release(h);
    }
  });
});
