import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { withRetries } from '../../../src/archive/bag-store';
import { DirStore } from '../../../src/archive/dir-store';
import { UserError } from '../../../src/errors';

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
