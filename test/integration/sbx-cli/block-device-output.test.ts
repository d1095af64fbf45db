// `blkfs sbx encode|decode` onto a block device (a container written to a raw disk, as SeqBox means it to be; a file
// restored onto one): the device is written in place and keeps its size, and a device an NBD server serves as a
// medium (a blkfs mount's source) is never written.
import { spawn, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import { VECTORS_DIR } from '../../helpers/vectors-dir';
import { attachLoop, detachAllLoops } from '../../helpers/loop-device';
import { NbdClient } from '../../../src/source/nbd/nbd-client';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');

function blkfs(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input: '', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout.toString() + r.stderr.toString() };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('sbx encode and decode onto a block device (writable loop device)', function () {
  this.timeout(60_000);
  let dir: string;
  let dev: string;
  const file = fs.readFileSync(path.join(VECTORS_DIR, 'v1-100k.bin'));
  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // losetup needs root
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-devout-'));
    fs.writeFileSync(path.join(dir, 'disk.img'), Buffer.alloc(1 << 20));
    dev = await attachLoop(path.join(dir, 'disk.img'), { writable: true });
  });
  after(async () => {
    await detachAllLoops();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('encode onto the device: exit 0, and the device decodes to the file (it was "EINVAL: ftruncate", exit 2)', () => {
    const enc = blkfs(['sbx', 'encode', '-f', '--pv', '0', path.join(VECTORS_DIR, 'v1-100k.bin'), dev]);
    expect(enc.code, enc.out).to.equal(0);
    const out = path.join(dir, 'back.bin');
    const dec = blkfs(['sbx', 'decode', '--pv', '0', dev, out]);
    expect(dec.code, dec.out).to.equal(0);
    expect(sha(fs.readFileSync(out))).to.equal(sha(file));
  });

  it('decode onto the device: exit 0, its first FSZ bytes are the file, the hash is checked on them', () => {
    const dec = blkfs(['sbx', 'decode', '-f', '--pv', '0', path.join(VECTORS_DIR, 'v1-100k.sbx'), dev]);
    expect(dec.code, dec.out).to.equal(0);
    expect(dec.out).to.contain('The output file hash matches the recorded hash');
    const fd = fs.openSync(dev, 'r');
    const head = Buffer.alloc(file.length);
    fs.readSync(fd, head, 0, head.length, 0);
    fs.closeSync(fd);
    expect(sha(head)).to.equal(sha(file));
  });

  it('a device an NBD server serves (a blkfs mount\'s medium) is refused as the output, exit 1, and not written', async () => {
    const sock = path.join(dir, 'nbd.sock');
    const nbdkit = spawn('nbdkit', ['-r', '-f', '-U', sock, 'file', dev], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const client = await NbdClient.connect({ socket: sock, exportName: '' }); // nbdkit opens the device per client
      try {
        const before = sha(fs.readFileSync(path.join(dir, 'disk.img')));
        const r = blkfs(['sbx', 'decode', '-f', '--pv', '0', path.join(VECTORS_DIR, 'v1-small.sbx'), dev]);
        expect(r.code, r.out).to.equal(1);
        expect(r.out).to.match(/nbdkit \(pid \d+\) has it open, serving it as a medium/);
        expect(sha(fs.readFileSync(path.join(dir, 'disk.img')))).to.equal(before);
      } finally {
        await client.disconnect();
      }
    } finally {
      nbdkit.kill();
      await new Promise((r) => nbdkit.once('exit', r));
    }
  });
});
