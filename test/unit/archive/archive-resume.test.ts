import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runArchive } from '../../../src/archive/archive-run';
import { stateFileFor } from '../../../src/archive/archive-state';
import { DirStore } from '../../../src/archive/dir-store';
import { OperationError, UserError } from '../../../src/errors';
import { BAG, CONTAINER, fakeMount, PART } from '../../helpers/archive-mount';

/** A directory store whose process is "killed" right after the bag got its final name (before the state is removed). */
class KilledAfterRename extends DirStore {
  override async finish(): Promise<void> {
    await super.finish();
    throw new Error('killed');
  }
}

describe('archive resume', () => {
  let tmp: string;
  let cache: string;
  let dest: string;
  let container: Buffer;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-resume-'));
    [cache, dest] = [path.join(tmp, 'cache'), path.join(tmp, 'bags')];
    fs.mkdirSync(dest);
    container = Buffer.alloc(CONTAINER);
    for (let i = 0; i < CONTAINER; i += 4096) container.writeUInt32BE(i, i);
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const archive = (store: DirStore, bytes = container) => runArchive(fakeMount(cache, bytes), [store], { toolVersion: 'test', partSize: PART });
  const stateFile = () => stateFileFor(cache, path.join(dest, BAG));
  const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort().map((f) => [f, fs.statSync(path.join(dir, f)).isFile() ? fs.readFileSync(path.join(dir, f)).toString('hex') : 'dir']));

  it('killed after the bag got its final name: the rerun recognises its own finished bag, removes the stale state, exit 0', async () => {
    await archive(new KilledAfterRename(dest, BAG, PART)).catch((e: Error) => expect(e.message).to.equal('killed'));
    expect(fs.existsSync(stateFile()), 'the state is left behind').to.equal(true);
    const bag = snapshot(path.join(dest, BAG));
    const logs: string[] = [];
    const r = await runArchive(fakeMount(cache, container), [new DirStore(dest, BAG, PART)], { toolVersion: 'test', partSize: PART, log: (m) => logs.push(m) });
    expect(r.partsStored).to.equal(0);
    expect(r.bags).to.deep.equal([path.join(dest, BAG)]);
    expect(logs.join('\n')).to.match(/already complete/);
    expect(fs.existsSync(stateFile()), 'the stale state is removed').to.equal(false);
    expect(snapshot(path.join(dest, BAG)), 'the bag untouched').to.deep.equal(bag);
    expect(fs.readdirSync(dest)).to.deep.equal([BAG]);
  });

  it('a bag under that name that is not the one the interrupted run finished is never overwritten (exit 1)', async () => {
    await archive(new KilledAfterRename(dest, BAG, PART)).catch(() => undefined);
    fs.appendFileSync(path.join(dest, BAG, 'data', 'image.map'), 'changed\n');
    const bag = snapshot(path.join(dest, BAG));
    const err = await archive(new DirStore(dest, BAG, PART)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).to.match(/a bag is already there, and it is not the one this archive finished .*image\.map.*not overwriting it/);
    expect(snapshot(path.join(dest, BAG))).to.deep.equal(bag);
  });

  // States written before they recorded the finished bag (the bug's victims have one): a directory bag is then
  // checked by its own manifests, and its data/image.sbx must hold every part the state recorded.
  it('a stale state that does not record the finished bag: a directory bag that checks by its own manifests is taken as done', async () => {
    await archive(new KilledAfterRename(dest, BAG, PART)).catch(() => undefined);
    const old = JSON.parse(fs.readFileSync(stateFile(), 'utf8')) as Record<string, unknown>;
    delete old.finishing;
    fs.writeFileSync(stateFile(), JSON.stringify(old));
    fs.appendFileSync(path.join(dest, BAG, 'bag-info.txt'), 'Changed: yes\n'); // differs from the tag manifest
    const err = await archive(new DirStore(dest, BAG, PART)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UserError);
    expect((err as Error).message).to.match(/not the one this archive finished .*bag-info\.txt/);
    const info = fs.readFileSync(path.join(dest, BAG, 'bag-info.txt'), 'utf8');
    fs.writeFileSync(path.join(dest, BAG, 'bag-info.txt'), info.replace('Changed: yes\n', ''));
    const r = await archive(new DirStore(dest, BAG, PART));
    expect(r.partsStored).to.equal(0);
    expect(fs.existsSync(stateFile())).to.equal(false);
  });

  // With --retries, a sector bad when the container was opened (zeros) can be read during the run; the bag's
  // image.map and checksums, read at the end, then describe another state than the parts stored.
  it('the medium changed during the run (--retries): exit 2 saying to run again, and the rerun stores the changed part again', async () => {
    const later = Buffer.from(container);
    later.fill(0x5a, 1000, 1512); // part 1: the sector read by a retry after the part was stored
    let opens = 0;
    const mount = fakeMount(cache, () => (opens++ === 0 ? container : later), 1);
    const err = await runArchive(mount, [new DirStore(dest, BAG, PART)], { toolVersion: 'test', partSize: PART }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OperationError);
    expect((err as Error).message).to.match(/part 1 reads differently now .*run the same command again/);
    expect(fs.existsSync(path.join(dest, BAG)), 'no finished bag').to.equal(false);
    const logs: string[] = [];
    const r = await runArchive(mount, [new DirStore(dest, BAG, PART)], { toolVersion: 'test', partSize: PART, log: (m) => logs.push(m) });
    expect(r.partsStored).to.equal(1);
    expect(logs.join('\n')).to.match(/part 1 of data\/image\.sbx reads differently now .*storing it again/);
    expect(fs.readFileSync(path.join(dest, BAG, 'data', 'image.sbx')).equals(later)).to.equal(true);
  });

  it('two destinations, the second failing after the first bag was finished: the same command again finishes the second (exit 0)', async () => {
    const other = path.join(tmp, 'other');
    fs.mkdirSync(other);
    class FullDisk extends DirStore {
      override async putFile(): Promise<void> {
        throw new Error('ENOSPC: no space left on device');
      }
    }
    const opts = { toolVersion: 'test', partSize: PART, attempts: 1 };
    const err = await runArchive(fakeMount(cache, container), [new DirStore(dest, BAG, PART), new FullDisk(other, BAG, PART)], opts).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(OperationError);
    expect(fs.existsSync(path.join(dest, BAG)), 'the first bag is finished').to.equal(true);
    const r = await runArchive(fakeMount(cache, container), [new DirStore(dest, BAG, PART), new DirStore(other, BAG, PART)], opts);
    expect(r.bags).to.deep.equal([path.join(dest, BAG), path.join(other, BAG)]);
    expect(fs.readFileSync(path.join(other, BAG, 'data', 'image.sbx')).equals(container)).to.equal(true);
    expect(fs.readdirSync(path.join(cache, 'archive')).filter((f) => f.endsWith('.json')), 'no state left').to.deep.equal([]);
  });
});
