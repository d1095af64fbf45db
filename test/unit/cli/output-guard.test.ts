// Outputs never destroy inputs: a block device over the same disk as the medium is refused, whatever its name.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { guardOutputs, replaceOnSuccess, wholeDiskOf } from '../../../src/cli/output-guard';
import { NbdClient } from '../../../src/source/nbd/nbd-client';
import { attachLoop, detachLoop } from '../../helpers/loop-device';

const makedev = (major: number, minor: number) => (major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);

describe('cli/output-guard: devices over the medium', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-guard-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a partition and its disk have one whole disk (sysfs), another disk has another', () => {
    const sys = path.join(dir, 'sys');
    fs.mkdirSync(path.join(sys, 'devices', 'sdb', 'sdb1'), { recursive: true });
    fs.writeFileSync(path.join(sys, 'devices', 'sdb', 'sdb1', 'partition'), '1\n');
    fs.mkdirSync(path.join(sys, 'devices', 'sdc'), { recursive: true });
    fs.mkdirSync(path.join(sys, 'dev', 'block'), { recursive: true });
    fs.symlinkSync('../../devices/sdb', path.join(sys, 'dev', 'block', '8:16'));
    fs.symlinkSync('../../devices/sdb/sdb1', path.join(sys, 'dev', 'block', '8:17'));
    fs.symlinkSync('../../devices/sdc', path.join(sys, 'dev', 'block', '8:32'));
    const disk = wholeDiskOf(makedev(8, 16), sys);
    expect(disk).to.equal(fs.realpathSync(path.join(sys, 'devices', 'sdb')));
    expect(wholeDiskOf(makedev(8, 17), sys)).to.equal(disk);
    expect(wholeDiskOf(makedev(8, 32), sys)).to.not.equal(disk);
    expect(wholeDiskOf(makedev(8, 99), sys)).to.equal(null);
  });

  it('another device file of the medium (same disk, another name and inode) is refused as an output', function () {
    const loop = '/dev/loop0';
    if (!fs.existsSync(loop) || process.getuid?.() !== 0) this.skip();
    const st = fs.statSync(loop);
    const alias = path.join(dir, 'medium-alias');
    execFileSync('mknod', [alias, 'b', String((st.rdev >>> 8) & 0xfff), String((st.rdev & 0xff) | ((st.rdev >>> 12) & 0xfff00))]);
    expect(() => guardOutputs([alias], [loop])).to.throw(/it is on the same disk as the input "\/dev\/loop0"/);
  });

  it('a file an NBD server serves (nbdkit holds it open) is refused as an output, whatever the mount names', async () => {
    const image = path.join(dir, 'disc.img');
    fs.writeFileSync(image, Buffer.alloc(1 << 20, 7));
    const sock = path.join(dir, 'nbd.sock');
    const nbdkit = spawn('nbdkit', ['-r', '-f', '-U', sock, 'file', image], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      // nbdkit's file plugin opens the file for each client, as for a mount's connection.
      const client = await NbdClient.connect({ socket: sock, exportName: '' });
      try {
        expect(() => guardOutputs([image], [])).to.throw(/nbdkit \(pid \d+\) has it open, serving it as a medium/);
        expect(() => guardOutputs([path.join(dir, 'other.img')], [])).to.not.throw();
      } finally {
        await client.disconnect();
      }
    } finally {
      nbdkit.kill();
    }
    expect(fs.readFileSync(image).equals(Buffer.alloc(1 << 20, 7))).to.equal(true);
  });

  it('a loop device as the output is refused when its backing file is an input, a cache\'s file or a served medium (it writes that file)', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const input = path.join(dir, 'x.iso');
    fs.writeFileSync(input, Buffer.alloc(1 << 20, 3));
    fs.mkdirSync(path.join(dir, 'cache'));
    fs.writeFileSync(path.join(dir, 'cache', 'state.sqlite'), '');
    const data = path.join(dir, 'cache', 'data.img');
    fs.writeFileSync(data, Buffer.alloc(1 << 20));
    const free = path.join(dir, 'free.img');
    fs.writeFileSync(free, Buffer.alloc(1 << 20));
    const attached = [await attachLoop(input, { writable: true }), await attachLoop(data, { writable: true }), await attachLoop(free, { writable: true })];
    const [overInput, overData, overFree] = attached;
    try {
      expect(() => guardOutputs([overInput], [input])).to.throw(`Refusing to write "${overInput}" (the loop device over "${input}"): it is the input`);
      expect(() => guardOutputs([overData], [])).to.throw(/lies inside the blkfs cache directory/);
      expect(() => guardOutputs([overFree], [input])).to.not.throw(); // a loop device over a file nobody else uses: a disk to write
      attached.unshift(await attachLoop(overFree, { writable: true })); // a loop over that loop
      expect(() => guardOutputs([attached[0]], [free])).to.throw(/it is the input/);
    } finally {
      for (const d of attached) await detachLoop(d);
    }
  });

  it('a partition of such a loop device, and one whose backing name was unlinked (the file alive under another), are refused too', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const input = path.join(dir, 'disk.img');
    const disk = Buffer.alloc(4 << 20);
    disk.writeUInt8(0x83, 0x1be + 4); // one MBR partition: Linux, from sector 2048 to the end
    disk.writeUInt32LE(2048, 0x1be + 8);
    disk.writeUInt32LE((4 << 20) / 512 - 2048, 0x1be + 12);
    disk.writeUInt16LE(0xaa55, 510);
    fs.writeFileSync(input, disk);
    const partitioned = execFileSync('losetup', ['-P', '-f', '--show', input]).toString().trim();
    spawnSync('partx', ['-a', partitioned]); // the scan at attach may miss it (fails when it did not: no matter)
    const unlinked = path.join(dir, 'was-named.img');
    fs.writeFileSync(unlinked, Buffer.alloc(1 << 20, 5));
    const loop = await attachLoop(unlinked, { writable: true });
    const alive = path.join(dir, 'still-here.img');
    fs.linkSync(unlinked, alive);
    fs.rmSync(unlinked); // sysfs now says "…/was-named.img (deleted)"
    try {
      for (let i = 0; i < 50 && !fs.existsSync(`${partitioned}p1`); i++) await new Promise((r) => setTimeout(r, 20));
      expect(() => guardOutputs([`${partitioned}p1`], [input])).to.throw(/it is the input/);
      expect(() => guardOutputs([`${partitioned}p1`], [alive])).to.not.throw(); // a partition of a disk image to write
      expect(() => guardOutputs([loop], [alive])).to.throw(/its backing file cannot be looked at/);
    } finally {
      execFileSync('losetup', ['-d', partitioned]);
      await detachLoop(loop);
    }
  });
});

describe('cli/output-guard: a run that fails part-way', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-keep-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const failAfter = (bytes: string) => async (file: string) => {
    if (bytes) fs.writeFileSync(file, bytes);
    throw new Error('EIO: i/o error, read');
  };

  it('keeps what it wrote when asked (sbx encode, as blkar): under OUT if new, else OUT.incomplete beside the earlier OUT; nothing written, nothing left', async () => {
    const out = path.join(dir, 'c.sbx');
    const err = await replaceOnSuccess(out, failAfter('part'), true).catch((e: Error) => e);
    expect((err as Error).message).to.equal(`EIO: i/o error, read; what was written is kept in "${out}"`);
    expect(fs.readFileSync(out, 'utf8')).to.equal('part');
    await replaceOnSuccess(out, failAfter('second'), true).catch(() => undefined);
    expect(fs.readFileSync(out, 'utf8'), 'the earlier OUT').to.equal('part');
    expect(fs.readFileSync(`${out}.incomplete`, 'utf8')).to.equal('second');
    await replaceOnSuccess(path.join(dir, 'none.sbx'), failAfter(''), true).catch(() => undefined);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['c.sbx', 'c.sbx.incomplete']);
  });

  it('takes the next free OUT.incomplete.N however many are taken, never leaving the bytes under a name the next run removes (review)', async () => {
    const out = path.join(dir, 'c.sbx');
    for (const name of ['c.sbx', 'c.sbx.incomplete', ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `c.sbx.incomplete.${n}`)]) fs.writeFileSync(path.join(dir, name), 'taken');
    const err = await replaceOnSuccess(out, failAfter('part'), true).catch((e: Error) => e);
    expect((err as Error).message).to.contain(`kept in "${out}.incomplete.10"`);
    expect(fs.readFileSync(`${out}.incomplete.10`, 'utf8')).to.equal('part');
    expect(fs.readdirSync(dir).filter((n) => n.includes('blkfs-partial'))).to.deep.equal([]);
  });

  it('otherwise leaves no partial file and the earlier OUT as it was', async () => {
    const out = path.join(dir, 'map.png');
    fs.writeFileSync(out, 'earlier');
    await replaceOnSuccess(out, failAfter('part')).catch(() => undefined);
    expect(fs.readdirSync(dir)).to.deep.equal(['map.png']);
    expect(fs.readFileSync(out, 'utf8')).to.equal('earlier');
  });
});
