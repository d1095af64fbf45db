// The mount server's malloc on transparent huge pages (GLIBC_TUNABLES glibc.malloc.hugetlb=1, server-preloads.ts):
// its large buffers (an acquisition's 4 MiB spans) take 2 MiB pages, not thousands of 4 KiB ones, each a trap to the
// hypervisor in a VM on its first touch. A user's own glibc.malloc.hugetlb wins.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { blkfs, cleanup, mount, patternImage, tempDir, umount } from './harness';

const THP_MODE = (() => {
  try {
    return /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
})();

/** KiB of the process's anonymous memory on transparent huge pages. */
function anonHugeKib(pid: number): number {
  return Number(/^AnonHugePages:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1]);
}

describe('mount: the server\'s large buffers on transparent huge pages', function () {
  let dir: string;
  let imagePath: string;

  before(function () {
    // Only where glibc's madvise makes the difference: "never" gives none, "always" gives them without asking.
    if (THP_MODE !== 'madvise') this.skip();
    dir = tempDir('huge-pages');
    imagePath = path.join(dir, 'medium.img');
    fs.writeFileSync(imagePath, patternImage(64 << 20));
  });
  after(() => dir && cleanup(dir));

  /** The server's huge-page KiB after acquiring the medium, and its mount log. */
  async function acquired(name: string, env?: NodeJS.ProcessEnv): Promise<{ kib: number; log: string; nbdkitTunables: string[] }> {
    const mnt = path.join(dir, `mnt-${name}`);
    const cache = path.join(dir, `cache-${name}`);
    const pid = await mount(imagePath, mnt, ['--cache', cache], env);
    try {
      const r = await blkfs(['acquire', '-q', mnt]);
      expect(r.code, r.stderr).to.equal(0);
      const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      const nbdkit = children.filter((c) => fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'nbdkit');
      const nbdkitTunables = nbdkit.flatMap((c) => fs.readFileSync(`/proc/${c}/environ`, 'utf8').split('\0').filter((v) => v.startsWith('GLIBC_TUNABLES=')));
      return { kib: anonHugeKib(pid), log: fs.readFileSync(path.join(cache, 'mount.log'), 'utf8'), nbdkitTunables };
    } finally {
      await umount(mnt);
    }
  }

  it('an acquisition\'s buffers take huge pages; with the user\'s glibc.malloc.hugetlb=0 they do not', async () => {
    const asked = await acquired('default');
    const refused = await acquired('off', { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' });
    expect(asked.log).to.include('memory: glibc.malloc.hugetlb=1 (GLIBC_TUNABLES), transparent huge pages: madvise');
    expect(refused.log).to.include('memory: glibc.malloc.hugetlb=0 (GLIBC_TUNABLES)');
    expect(asked.nbdkitTunables).to.deep.equal(['GLIBC_TUNABLES=glibc.malloc.hugetlb=1']); // nbdkit's request buffers too
    // At least four 2 MiB pages more: the 4 MiB span buffers (a dozen of them in an acquisition of 64 MiB).
    expect(asked.kib - refused.kib, `huge pages: ${asked.kib} KiB asked, ${refused.kib} KiB refused`).to.be.at.least(8192);
  });
});
