import { expect } from 'chai';
import { untilUnmounted } from '../../../src/fuse/fuse-mount';

describe('fuse/untilUnmounted', () => {
  it('an unmount command whose exit never reaches us still ends once the mount is gone', async () => {
    let mounted = true;
    setTimeout(() => (mounted = false), 30);
    await untilUnmounted(new Promise(() => {}), () => !mounted, 5); // would hang without the kernel's word
    expect(mounted).to.equal(false);
  });

  it('a failing command still fails while the mount stays (busy)', async () => {
    const err = await untilUnmounted(Promise.reject(new Error('device is busy')), () => false, 5).catch((e: Error) => e);
    expect((err as Error).message).to.equal('device is busy');
  });
});
