// An NBD server that comes back with a medium of another size serves another disc: a reader waiting for it to be
// identified gets ENOMEDIUM ("the medium changed"), as for any other disc; ENXIO would say the source is unreachable.
import { expect } from 'chai';
import { errnoNameOf } from '../../../src/fuse/errno';
import { GuardedSource } from '../../../src/source/medium-watch';
import { MediumSizeChangedError } from '../../../src/source/nbd/nbd-block-source';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

describe('source/a reconnect to a medium of another size', () => {
  it('is answered ENOMEDIUM to a waiting reader, not ENXIO', async () => {
    const src = new MemorySource(patternBuffer(1024 * 1024, 3));
    const guarded = new GuardedSource(src, () => ({ token: 'nbd' }), 'nbd://test');
    // What the follower resolves to when the reconnect found another size (medium-follower.ts)
    guarded.setIdentifier(async () => new MediumSizeChangedError('it now has 4194304 bytes instead of 1048576: a different medium', 4194304));
    src.emit({ type: 'lost', message: 'connection lost (test)' });
    const err = await guarded.read(0, 512).catch((e: unknown) => e);
    expect(errnoNameOf(err)).to.equal('ENOMEDIUM');
  });
});
