import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MountAccess, runArchive } from '../../../src/archive/archive-run';
import { DirStore } from '../../../src/archive/dir-store';
import { parseS3Url } from '../../../src/archive/s3-store';
import { UserError } from '../../../src/errors';

/** A mount that only answers /status: enough for what runArchive checks before it stores anything. */
function statusOnlyMount(cacheDir: string): MountAccess {
  const fail = () => Promise.reject(new Error('not reached'));
  return {
    status: async () => ({
      size: 1 << 20,
      sectorSize: 512,
      bytesCached: 1 << 20,
      bytesBad: 0,
      bytesUntried: 0,
      bytesNonTrimmed: 0,
      bytesNonScraped: 0,
      sbxImage: { version: 17, dataShards: 10, parityShards: 2, burst: 12, hash: 'sha256', blockSize: 512, containerSize: 1_400_000, uid: '0123456789AB', name: 'medium.img' },
      server: { pid: process.pid, cacheDir, source: 'medium.img', controlSocket: '', mountpoint: '' },
    }),
    mapfile: fail,
    openContainer: fail,
    readFile: fail,
  };
}

describe('archive destinations', () => {
  it('the same destination given twice is bad user input, refused before anything is written there', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dest-'));
    try {
      const cache = path.join(tmp, 'cache');
      const dest = path.join(tmp, 'bags');
      fs.mkdirSync(dest);
      const stores = [new DirStore(dest, 'medium-0123456789AB', 5 << 20), new DirStore(`${dest}/`, 'medium-0123456789AB', 5 << 20)];
      const err = await runArchive(statusOnlyMount(cache), stores, { toolVersion: 'test' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(UserError);
      expect((err as Error).message).to.match(/bags\/medium-0123456789AB is given twice/);
      expect(fs.readdirSync(dest)).to.deep.equal([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('an S3 bucket name S3 would refuse is named with the rule (s3://bk/x: too short), exit 1', () => {
    expect(parseS3Url('s3://bucket-1/a/b/')).to.deep.equal({ bucket: 'bucket-1', prefix: 'a/b' });
    for (const url of ['s3://bk/x', 's3://My_Bucket/x']) expect(() => parseS3Url(url), url).to.throw(UserError, /not an S3 bucket name: .* \(3 to 63 characters/);
    expect(() => parseS3Url('/tmp/bags')).to.throw(UserError, /not an S3 destination/);
    expect(() => parseS3Url('s3://bucket-1/a\u0000b')).to.throw(UserError, /control character \(0x00\) at 1/);
    expect(() => parseS3Url(`s3://bucket-1/${'k'.repeat(769)}`)).to.throw(UserError, /769 bytes long \(at most 768/);
  });
});
