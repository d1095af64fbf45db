import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { detectSectorSize, validateSectorSize } from '../../../src/source/sector-size';
import { SourceArgError } from '../../../src/source/source-spec';

describe('nbd/sector-size', () => {
  let root: string;
  let sysfs: string;
  let dev: string;
  before(() => {
    // A fake /sys/class/block and /dev: sda (4Kn) with partition sda1, sr0 with and without sysfs.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sysfs-'));
    sysfs = path.join(root, 'class-block');
    dev = path.join(root, 'dev');
    const devices = path.join(root, 'devices');
    fs.mkdirSync(path.join(devices, 'sda', 'queue'), { recursive: true });
    fs.writeFileSync(path.join(devices, 'sda', 'queue', 'logical_block_size'), '4096\n');
    fs.mkdirSync(path.join(devices, 'sda', 'sda1'));
    fs.mkdirSync(path.join(devices, 'sr1', 'queue'), { recursive: true });
    fs.writeFileSync(path.join(devices, 'sr1', 'queue', 'logical_block_size'), '2048\n');
    fs.mkdirSync(sysfs);
    fs.symlinkSync(path.join(devices, 'sda'), path.join(sysfs, 'sda'));
    fs.symlinkSync(path.join(devices, 'sda', 'sda1'), path.join(sysfs, 'sda1'));
    fs.symlinkSync(path.join(devices, 'sr1'), path.join(sysfs, 'sr1'));
    fs.mkdirSync(dev);
    for (const name of ['sda', 'sda1', 'sr0', 'sr1', 'vdb']) fs.writeFileSync(path.join(dev, name), '');
    fs.symlinkSync(path.join(dev, 'sr1'), path.join(dev, 'cdrom'));
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  const device = (name: string) => ({ kind: 'device' as const, path: path.join(dev, name) });
  const cases: [string, () => Promise<number>, number][] = [
    ['a disk: sysfs queue/logical_block_size', () => detectSectorSize(device('sda'), undefined, sysfs), 4096],
    ['a partition: its parent disk\'s queue', () => detectSectorSize(device('sda1'), undefined, sysfs), 4096],
    ['/dev/cdrom symlink: resolved to sr1 in sysfs', () => detectSectorSize(device('cdrom'), undefined, sysfs), 2048],
    ['an sr device without sysfs: 2048', () => detectSectorSize(device('sr0'), undefined, sysfs), 2048],
    ['another device without sysfs: 512', () => detectSectorSize(device('vdb'), undefined, sysfs), 512],
    ['an image file: 512', () => detectSectorSize({ kind: 'file', path: '/x.img' }), 512],
    ['an NBD export: 512', () => detectSectorSize({ kind: 'nbd', target: { socket: '/s', exportName: '' } }), 512],
    ['an override wins over sysfs', () => detectSectorSize(device('sda'), 512, sysfs), 512],
  ];
  for (const [what, run, expected] of cases) {
    it(`${what} → ${expected}`, async () => expect(await run()).to.equal(expected));
  }

  it('reads the real sysfs for a real block device', async function () {
    const real = ['vda', 'sda', 'nvme0n1', 'loop0'].find((n) => fs.existsSync(`/dev/${n}`) && fs.existsSync(`/sys/class/block/${n}/queue/logical_block_size`));
    if (!real) this.skip();
    const expected = Number(fs.readFileSync(`/sys/class/block/${real}/queue/logical_block_size`, 'utf8'));
    expect(await detectSectorSize({ kind: 'device', path: `/dev/${real}` })).to.equal(expected);
  });

  for (const good of [512, 1024, 2048, 4096, 65536]) {
    it(`accepts --block-size ${good}`, () => expect(validateSectorSize(good)).to.equal(good));
  }
  for (const bad of [0, 256, 1000, 3072, 131072, 512.5, -512, NaN]) {
    it(`rejects --block-size ${bad}`, () => expect(() => validateSectorSize(bad)).to.throw(SourceArgError, /power of two from 512 to 65536/));
  }
});
