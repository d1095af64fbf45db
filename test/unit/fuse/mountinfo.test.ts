import { expect } from 'chai';
import { parseMountinfo } from '../../../src/fuse/mountinfo';

describe('fs/mountinfo', () => {
  it('reads mountpoint, type, source and device number, unescaping octal escapes', () => {
    const text = [
      '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
      '97 22 0:52 / /tmp/my\\040disk rw,nosuid,nodev,relatime shared:60 - fuse.blkfs blkfs rw,user_id=0,group_id=0',
      '',
    ].join('\n');
    expect(parseMountinfo(text)).to.deep.equal([
      { mountpoint: '/', fstype: 'ext4', source: '/dev/sda1', device: '0:21' },
      { mountpoint: '/tmp/my disk', fstype: 'fuse.blkfs', source: 'blkfs', device: '0:52' },
    ]);
  });

  it('copes with optional fields before the separator', () => {
    const [m] = parseMountinfo('30 22 0:27 / /mnt rw shared:5 master:2 - tmpfs tmpfs rw,size=1024k\n');
    expect(m).to.deep.equal({ mountpoint: '/mnt', fstype: 'tmpfs', source: 'tmpfs', device: '0:27' });
  });
});
