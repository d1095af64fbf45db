// A run killed after its S3 bag was complete (tag manifest stored) but before its resume state was removed: the rerun
// recognises its own bag from what the state recorded, and still never takes someone else's bag for it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runArchive } from '../../../src/archive/archive-run';
import { stateFileFor } from '../../../src/archive/archive-state';
import { S3Store, s3Client } from '../../../src/archive/s3-store';
import { UserError } from '../../../src/errors';
import { BAG, CONTAINER, fakeMount, PART } from '../../helpers/archive-mount';
import { useS3Server } from '../../helpers/s3-store';

/** An S3 store whose process is "killed" right after the bag was complete, before the archive removed its state. */
class KilledAfterTagmanifest extends S3Store {
  override async finish(): Promise<void> {
    throw new Error('killed');
  }
}

describe('archive: an S3 bag finished by a run killed before it could say so (real s3rver on loopback)', function () {
  this.timeout(60_000);
  const s3 = useS3Server('s3-finished');

  it('the rerun takes its own finished bag as done (exit 0, state removed); a bag changed since is refused (exit 1)', async () => {
    const client = s3Client({ endpoint: `http://127.0.0.1:${s3.port}` });
    const store = (S: typeof S3Store = S3Store) => new S(client, { bucket: 'bags', prefix: 'p' }, BAG, {});
    const cache = path.join(s3.dir, 'cache');
    const container = Buffer.alloc(CONTAINER, 0x42);
    const mount = fakeMount(cache, container);
    const err = await runArchive(mount, [store(KilledAfterTagmanifest)], { toolVersion: 'test', partSize: PART }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('killed');
    const state = stateFileFor(cache, store().label);
    expect(fs.existsSync(state)).to.equal(true);
    const stateText = fs.readFileSync(state);

    const r = await runArchive(mount, [store()], { toolVersion: 'test', partSize: PART });
    expect(r.partsStored).to.equal(0);
    expect(fs.existsSync(state), 'the stale state is removed').to.equal(false);

    // The same state again, but someone replaced a file of the bag since: not this archive's bag any more.
    fs.writeFileSync(state, stateText);
    await client.send(new PutObjectCommand({ Bucket: 'bags', Key: `p/${BAG}/data/image.map`, Body: 'another map\n' }));
    const refused = await runArchive(mount, [store()], { toolVersion: 'test', partSize: PART }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(UserError);
    expect((refused as Error).message).to.match(/a bag is already there, and it is not the one this archive finished .*image\.map.*not overwriting it/);
  });

  it('another archive under the same name finishing while this one runs: its bag is not written over (exit 1)', async () => {
    const client = s3Client({ endpoint: `http://127.0.0.1:${s3.port}` });
    const foreign = { 'data/image.sbx': 'the other medium\n', 'tagmanifest-sha256.txt': 'the other bag\n' };
    /** Its last part stored, the other run finishes the bag under the same name (S3 has no lock for it to meet). */
    class OtherRunFinishes extends S3Store {
      override async putPart(...args: Parameters<S3Store['putPart']>) {
        const r = await super.putPart(...args);
        if (args[0] === Math.ceil(CONTAINER / PART)) {
          for (const [rel, body] of Object.entries(foreign)) await client.send(new PutObjectCommand({ Bucket: 'bags', Key: `q/${BAG}/${rel}`, Body: body }));
        }
        return r;
      }
    }
    const mount = fakeMount(path.join(s3.dir, 'cache-q'), Buffer.alloc(CONTAINER, 0x43));
    const err = await runArchive(mount, [new OtherRunFinishes(client, { bucket: 'bags', prefix: 'q' }, BAG, {})], { toolVersion: 'test', partSize: PART }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).to.match(/a finished bag appeared there while this archive ran .*not overwriting it/);
    for (const [rel, body] of Object.entries(foreign)) {
      const got = await client.send(new GetObjectCommand({ Bucket: 'bags', Key: `q/${BAG}/${rel}` }));
      expect(await got.Body!.transformToString(), rel).to.equal(body);
    }
  });
});
