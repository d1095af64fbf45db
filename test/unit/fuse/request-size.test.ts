// The mount server's environment: the 1 MiB-read shim goes first in LD_PRELOAD, beside whatever a user preloads.
import { expect } from 'chai';
import * as fs from 'fs';
import { keepShimFromChildren, MAX_PAGES_SHIM, requestSizeNote, withShim } from '../../../src/fuse/request-size';

describe('fuse request size: the shim in the server environment', () => {
  before(function () {
    if (!fs.existsSync(MAX_PAGES_SHIM)) this.skip(); // built by npm run build (scripts/build-native.sh)
  });

  it('is put first in LD_PRELOAD, keeping what the user preloads', () => {
    expect(withShim({ LD_PRELOAD: '/usr/lib/a.so b.so' }).LD_PRELOAD).to.equal(`${MAX_PAGES_SHIM}:/usr/lib/a.so:b.so`);
    expect(withShim({}).LD_PRELOAD).to.equal(MAX_PAGES_SHIM);
  });

  it('is not added twice, and leaves the environment of the server\'s children', () => {
    const env = withShim({ LD_PRELOAD: 'b.so' });
    expect(withShim(env)).to.equal(env);
    keepShimFromChildren(env);
    expect(env.LD_PRELOAD).to.equal('b.so');
    const only = withShim({});
    keepShimFromChildren(only);
    expect(only).to.not.have.property('LD_PRELOAD');
  });

  it('the mount log says when this process runs without it', () => {
    expect(requestSizeNote()).to.include('up to 128 KiB').and.include('not preloaded');
  });
});
