// --allow-other: another user (here nobody, uid 65534) reads the mount's files; without it the kernel refuses them
// every access. Either way they cannot drive the rescue: /mapfile is writable by the mount's owner alone.
import { expect } from 'chai';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { mountAt } from '../../../src/fuse/mountinfo';
import { cleanup, MAIN_JS, mount, patternImage, run, tempDir, umount } from './harness';

const asNobody = (cmd: string[]) => run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...cmd]);

describe('mount --allow-other (real FUSE, another user)', function () {
  const image = patternImage(1 << 20);
  let dir: string;

  before(() => {
    dir = tempDir('allow-other');
    fs.chmodSync(dir, 0o755); // nobody must reach the mountpoints
    fs.writeFileSync(path.join(dir, 'a.img'), image);
  });

  after(() => cleanup(dir));

  it("with --allow-other, another user reads /raw (the image's bytes) and /status, and cannot write /mapfile", async () => {
    const mnt = path.join(dir, 'shared');
    await mount(path.join(dir, 'a.img'), mnt, ['--cache', path.join(dir, 'cache-shared'), '--allow-other']);
    const sum = await asNobody(['sha256sum', path.join(mnt, 'raw')]);
    expect(sum.code, sum.stderr).to.equal(0);
    expect(sum.stdout.split(' ')[0]).to.equal(createHash('sha256').update(image).digest('hex'));
    expect((await asNobody(['cat', path.join(mnt, 'status')])).code).to.equal(0);
    const write = await asNobody(['sh', '-c', `echo '0x0 ?' > ${path.join(mnt, 'mapfile')}`]);
    expect(write.code).to.not.equal(0);
    expect(write.stderr).to.match(/Permission denied/);
    expect(fs.statSync(path.join(mnt, 'raw')).uid).to.equal(process.getuid!()); // owned by who mounted
    if ((await asNobody(['test', '-r', MAIN_JS])).code === 0) {
      // The server's control socket is not theirs: umount (like acquire, export) is exit 1, and nothing is signalled.
      const r = await asNobody([process.execPath, MAIN_JS, 'umount', mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/EACCES \(it runs as another user: run this as that user, or as root\)/);
      expect(mountAt(mnt)?.fstype).to.equal('fuse.blkfs');
    }
    await umount(mnt);
  });

  it('without it, another user cannot even look inside the mount', async () => {
    const mnt = path.join(dir, 'private');
    await mount(path.join(dir, 'a.img'), mnt, ['--cache', path.join(dir, 'cache-private')]);
    const r = await asNobody(['cat', path.join(mnt, 'raw')]);
    expect(r.code).to.not.equal(0);
    expect(r.stderr).to.match(/Permission denied/);
    await umount(mnt);
  });

  it('a user other than root is told what --allow-other needs (exit 1) when /etc/fuse.conf does not allow it', async function () {
    if ((await asNobody(['test', '-r', MAIN_JS])).code !== 0) this.skip(); // a checkout nobody cannot reach
    if (/^\s*user_allow_other\s*$/m.test(fs.existsSync('/etc/fuse.conf') ? fs.readFileSync('/etc/fuse.conf', 'latin1') : '')) this.skip();
    const r = await asNobody([process.execPath, MAIN_JS, 'mount', '--allow-other', '--cache', path.join(dir, 'c'), path.join(dir, 'a.img'), path.join(dir, 'm')]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('--allow-other needs root, or a line "user_allow_other" in /etc/fuse.conf');
  });
});
