// A run stopped after its S3 upload of data/image.sbx was completed, before the bag was finished; then (mount
// --retries) a part reads differently. s3rver, like some stores, cannot list an upload's parts, so the resume trusts
// its record of an upload that is gone: the bag fails its check. The run after that must start the upload afresh
// rather than fail the same way forever.
import { expect } from 'chai';
import * as path from 'path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runArchive } from '../../../src/archive/archive-run';
import { S3Store, s3Client } from '../../../src/archive/s3-store';
import { OperationError } from '../../../src/errors';
import { BAG, CONTAINER, fakeMount, PART } from '../../helpers/archive-mount';
import { useS3Server } from '../../helpers/s3-store';

/** Stopped (an error, a kill) once data/image.sbx is complete, before any small file is stored. */
class StoppedAfterImage extends S3Store {
  override async putFile(): Promise<void> {
    throw new Error('stopped');
  }
}

describe('archive: an S3 upload completed by a stopped run, then a part changed (real s3rver on loopback)', function () {
  this.timeout(60_000);
  const s3 = useS3Server('s3-stale');

  it('a bag that fails its check is stored afresh by the next run, which finishes it with the container as it is now', async () => {
    const endpoint = `http://127.0.0.1:${s3.port}`;
    const store = (S: typeof S3Store = S3Store) => new S(s3Client({ endpoint }), { bucket: 'bags', prefix: 'stale' }, BAG, { endpoint });
    const cache = path.join(s3.dir, 'cache');
    const before = Buffer.alloc(CONTAINER, 1);
    const now = Buffer.from(before);
    now.fill(2, PART + 10, PART + 522); // part 2: a sector that was bad (zeros) read since by a retry
    const opts = { toolVersion: 'test', partSize: PART, attempts: 1 };
    expect(await runArchive(fakeMount(cache, before, 1), [store(StoppedAfterImage)], opts).then(() => 'finished', (e: Error) => e.message)).to.match(/stopped/);
    const tries: string[] = [];
    for (let run = 0; run < 3; run++) {
      const r = await runArchive(fakeMount(cache, now, 1), [store()], opts).then(
        () => 'finished',
        (e: unknown) => (e instanceof OperationError ? `exit 2: ${e.message}` : String(e)),
      );
      tries.push(r);
      if (r === 'finished') break;
    }
    expect(tries.at(-1), tries.join('\n')).to.equal('finished');
    expect(tries.length, tries.join('\n')).to.be.at.most(2);
    const got = await s3Client({ endpoint }).send(new GetObjectCommand({ Bucket: 'bags', Key: `stale/${BAG}/data/image.sbx` }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(now)).to.equal(true);
  });
});
