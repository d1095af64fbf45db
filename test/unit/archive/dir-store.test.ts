import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runArchive } from '../../../src/archive/archive-run';
import { StoreResume, withRetries } from '../../../src/archive/bag-store';
import { DirStore } from '../../../src/archive/dir-store';
import { OperationError, UserError } from '../../../src/errors';
import { readdir, readlink } from '../../../src/proc-fds';
import { BAG, CONTAINER, fakeMount, PART } from '../../helpers/archive-mount';

/** This process's descriptors open on `file` (/proc/self/fd). */
const openOn = (file: string) => readdir('/proc/self/fd').filter((fd) => readlink(`/proc/self/fd/${fd}`) === file).length;

describe('archive/dir-store a bag in a directory', () => {
  let dest: string;
  beforeEach(() => (dest = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-dirstore-'))));
  afterEach(() => fs.rmSync(dest, { recursive: true, force: true }));

  it('one writer per half-written bag, whichever cache it comes from: a live writer of DEST/<bag>.partial is named (exit 1)', async () => {
    // Another blkfs archive (of another medium, same --name) is writing this bag: its pid is in the lock.
    fs.writeFileSync(path.join(dest, 'disc.partial.lock'), String(process.ppid));
    const err = await new DirStore(dest, 'disc', 5 << 20).openImage(1 << 20, undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).to.contain(`another blkfs archive (pid ${process.ppid}) is writing`);
    expect(fs.existsSync(path.join(dest, 'disc.partial'))).to.equal(false);
  });

  it('the archive does not retry bad input: withRetries hands a UserError on at once', async () => {
    let calls = 0;
    const err = await withRetries('opening', 4, async () => {
      calls++;
      throw new UserError('busy');
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UserError);
    expect(calls).to.equal(1);
  });

  it('a run that fails midway closes its image file (no handle left for the garbage collector) and lets go of the lock; the half-written bag stays', async () => {
    const image = path.join(dest, `${BAG}.partial`, 'data', 'image.sbx');
    class FlakyDisk extends DirStore {
      opens = 0;
      openAfterRetry = 0;
      override async openImage(size: number, saved: StoreResume | undefined): Promise<StoreResume> {
        const r = await super.openImage(size, saved);
        if (++this.opens === 1) throw new Error('EIO: i/o error, read'); // after the file was opened: tried again
        this.openAfterRetry = openOn(image);
        return r;
      }
    }
    // The medium cannot be read on after the first part.
    const mount = fakeMount(path.join(dest, 'cache'), Buffer.alloc(CONTAINER, 7));
    let reads = 0;
    const container = await mount.openContainer();
    mount.openContainer = async () => ({ ...container, read: async (o: number, n: number) => (++reads > 1 ? Promise.reject(new Error('EIO: reading the medium')) : container.read(o, n)) });
    const store = new FlakyDisk(dest, BAG, PART);
    const err = await runArchive(mount, [store], { toolVersion: 'test', partSize: PART, attempts: 2 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OperationError);
    expect((err as Error).message).to.contain('reading the medium');
    expect(store.openAfterRetry, 'descriptors on data/image.sbx once openImage was tried again').to.equal(1);
    expect(fs.readFileSync(image).subarray(0, PART).equals(Buffer.alloc(PART, 7)), 'part 1 was stored before the failure').to.equal(true);
    expect(openOn(image), 'descriptors left open on data/image.sbx').to.equal(0);
    expect(fs.existsSync(`${path.join(dest, BAG)}.partial.lock`), 'the lock').to.equal(false);
    expect(fs.statSync(image).size, 'the half-written bag stays').to.equal(CONTAINER);
  });

  it('the lock goes with the finished bag, and a lock left by a dead writer is taken over', async () => {
    fs.writeFileSync(path.join(dest, 'disc.partial.lock'), '2147483646');
    const store = new DirStore(dest, 'disc', 5 << 20);
    await store.openImage(4, undefined);
    await store.putPart(1, Buffer.from('abcd'), Buffer.alloc(0), Buffer.alloc(32));
    await store.completeImage();
    await store.finish();
    expect(fs.readdirSync(dest)).to.deep.equal(['disc']);
  });
});
