// The mount server's environment: its preload libraries go first in LD_PRELOAD, beside whatever a user preloads,
// and leave the environment of its children.
import { expect } from 'chai';
import * as fs from 'fs';
import { MAX_PAGES_SHIM, requestSizeNote } from '../../../src/fuse/request-size';
import { CPU_PLACEMENT_LIB, cpuPlacementNote, HUGE_PAGE_MALLOC, hugePageNote, keepPreloadsFromChildren, withServerPreloads } from '../../../src/fuse/server-preloads';

describe('fuse: the mount server\'s preload libraries', () => {
  const both = `${MAX_PAGES_SHIM}:${CPU_PLACEMENT_LIB}`;
  before(function () {
    if (!fs.existsSync(MAX_PAGES_SHIM) || !fs.existsSync(CPU_PLACEMENT_LIB)) this.skip(); // built by npm run build (scripts/build-native.sh)
  });

  it('are put first in LD_PRELOAD, keeping what the user preloads', () => {
    expect(withServerPreloads({ LD_PRELOAD: '/usr/lib/a.so b.so' }).LD_PRELOAD).to.equal(`${both}:/usr/lib/a.so:b.so`);
    expect(withServerPreloads({}).LD_PRELOAD).to.equal(both);
    expect(withServerPreloads({ LD_PRELOAD: `b.so:${MAX_PAGES_SHIM}` }).LD_PRELOAD).to.equal(`${CPU_PLACEMENT_LIB}:b.so:${MAX_PAGES_SHIM}`);
  });

  it('are not added twice, and leave the environment of the server\'s children', () => {
    const env = withServerPreloads({ LD_PRELOAD: 'b.so' });
    expect(withServerPreloads(env)).to.equal(env);
    env.BLKFS_CPU_PLACEMENT_APPLIED = 'request path on CPU 1, other threads on the 1 others';
    keepPreloadsFromChildren(env);
    expect(env.LD_PRELOAD).to.equal('b.so');
    expect(env).to.not.have.property('BLKFS_CPU_PLACEMENT_APPLIED');
    const only = withServerPreloads({});
    keepPreloadsFromChildren(only);
    expect(only).to.not.have.property('LD_PRELOAD');
  });

  it('the mount log says when this process runs without them', () => {
    expect(requestSizeNote()).to.include('up to 128 KiB').and.include('not preloaded');
    expect(cpuPlacementNote({})).to.equal('cpu: threads placed by the scheduler (cpu-placement.so not preloaded into this process)');
    expect(cpuPlacementNote({ BLKFS_CPU_PLACEMENT_APPLIED: 'off (one CPU to run on)' })).to.equal('cpu: off (one CPU to run on) (cpu-placement.so)');
  });
});

describe('fuse: the mount server\'s malloc on transparent huge pages', () => {
  it('is asked for in GLIBC_TUNABLES, beside the user\'s other tunables', () => {
    expect(withServerPreloads({}).GLIBC_TUNABLES).to.equal(HUGE_PAGE_MALLOC);
    expect(withServerPreloads({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).to.equal(`glibc.malloc.arena_max=2:${HUGE_PAGE_MALLOC}`);
  });

  it('leaves a user\'s own glibc.malloc.hugetlb as it is, and is not added twice', () => {
    const off = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0', LD_PRELOAD: `${MAX_PAGES_SHIM}:${CPU_PLACEMENT_LIB}` };
    expect(withServerPreloads(off).GLIBC_TUNABLES).to.equal('glibc.malloc.hugetlb=0');
    const env = withServerPreloads({});
    expect(withServerPreloads(env)).to.equal(env);
  });

  it('the mount log says what this process was started with', () => {
    expect(hugePageNote({ GLIBC_TUNABLES: `glibc.malloc.arena_max=2:${HUGE_PAGE_MALLOC}` })).to.match(/^memory: glibc\.malloc\.hugetlb=1 \(GLIBC_TUNABLES\), transparent huge pages: \w+$/);
    expect(hugePageNote({})).to.include('glibc.malloc.hugetlb not set');
  });
});
