// A multipart completion whose answer was lost (the store went away mid-request) leaves the upload id gone: the
// next attempt, in this run or a resumed one, must take the object in place as done, and fail when there is none.
import { createHash } from 'crypto';
import { expect } from 'chai';
import { S3Store, s3Client } from '../../../src/archive/s3-store';
import { UserError } from '../../../src/errors';
import { useS3Server } from '../../helpers/s3-store';

describe('archive: S3 multipart completion (real s3rver on loopback)', function () {
  const s3 = useS3Server('s3-complete');

  async function uploadOnePart(bag: string) {
    const store = new S3Store(s3Client({ endpoint: `http://127.0.0.1:${s3.port}` }), { bucket: 'bags', prefix: 't' }, bag, {});
    const bytes = Buffer.alloc(1024, 7);
    await store.openImage(bytes.length, undefined);
    const part = await store.putPart(1, bytes, createHash('md5').update(bytes).digest(), createHash('sha256').update(bytes).digest());
    return { store, part };
  }

  it('a completion repeated after it succeeded is taken as done (the object is in place with the parts\' size)', async () => {
    const { store, part } = await uploadOnePart('done-twice');
    await store.completeImage([part]);
    await store.completeImage([part]); // the upload id is gone now, as after a lost answer
  });

  it('a bucket the store does not have is bad input (UserError: exit 1, not retried), as a missing directory is', async () => {
    const store = new S3Store(s3Client({ endpoint: `http://127.0.0.1:${s3.port}` }), { bucket: 'no-such-bucket', prefix: 't' }, 'b', {});
    expect(await store.bagExists()).to.equal(false); // a HEAD cannot say which is missing, the bucket or the bag
    const err = await store.openImage(1024, undefined).then(() => undefined, (e: Error) => e);
    expect(err).to.be.instanceOf(UserError);
    expect(err?.message).to.equal('s3://no-such-bucket/t/b: the store has no bucket no-such-bucket (NoSuchBucket)');
  });

  it('a completion that fails with no object in place still fails, naming the image', async () => {
    const store = new S3Store(s3Client({ endpoint: `http://127.0.0.1:${s3.port}` }), { bucket: 'bags', prefix: 't' }, 'never-done', {});
    await store.openImage(1024, { uploadId: 'no-such-upload', parts: {} }); // s3rver cannot list parts: the record is trusted
    const part = { n: 1, size: 1024, md5: '0'.repeat(32), sha256: '0'.repeat(64) };
    const err = await store.completeImage([part]).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/data\/image\.sbx: completing the multipart upload failed/);
  });
});
