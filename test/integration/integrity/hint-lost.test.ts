// A cache is recorded in two places: its database (identity, sector state) and identity.json, the hint by which the
// default cache location finds the cache of the medium in hand. A kill -9 (or a power cut) between the database's
// first commit and the hint left a cache the default mount did not find: it created a second one and read the whole
// medium again, and `blkfs export/verify --cache` refused the cache. The database's identity now stands in for a
// lost hint, and a mount writes the hint again.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mount, patternImage, readStatus, run, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';

const SIZE = 2 * 1024 * 1024;

describe('integrity: a cache whose identity.json was lost (kill -9 between its first commit and its hint)', function () {
  this.timeout(60_000);
  let tmp: string;

  beforeEach(() => (tmp = tempDir('hint-lost')));
  afterEach(async () => {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('is still found by the default mount (no sector read again but the identity probe) and exported by --cache', async () => {
    const image = patternImage(SIZE);
    const { imagePath, mapPath } = writeMedium(tmp, image, []);
    const nbd = await startNbdkit(tmp, imagePath, mapPath);
    const env = { ...process.env, XDG_CACHE_HOME: path.join(tmp, 'xdg') };
    const mnt = path.join(tmp, 'mnt');

    await mount(nbd.uri, mnt, [], env);
    const cacheDir = (await readStatus(mnt)).server.cacheDir;
    expect((await run('cmp', [imagePath, path.join(mnt, 'raw')])).code, 'first read of /raw').to.equal(0);
    await umount(mnt);
    const readsBefore = readNbdkitLog(nbd.logFile).reads.length;
    const probes = new Set<number>(JSON.parse(fs.readFileSync(path.join(cacheDir, 'identity.json'), 'utf8')).probeSectors);
    fs.rmSync(path.join(cacheDir, 'identity.json')); // what a kill between the commit and the hint leaves

    const out = path.join(tmp, 'out.img');
    const exp = await blkfs(['export', '--cache', cacheDir, out, path.join(tmp, 'out.map')], { env });
    expect(exp.code, exp.stderr).to.equal(0);
    expect(fs.readFileSync(out).equals(image), 'exported image').to.equal(true);

    await mount(nbd.uri, mnt, [], env);
    expect((await readStatus(mnt)).server.cacheDir, 'the mount opened the same cache').to.equal(cacheDir);
    expect((await run('cmp', [imagePath, path.join(mnt, 'raw')])).code, 'second read of /raw').to.equal(0);
    await umount(mnt);
    const again = readNbdkitLog(nbd.logFile).reads.slice(readsBefore);
    const notProbes = again.filter((r) => {
      for (let s = Math.floor(r.offset / 512); s < Math.ceil((r.offset + r.count) / 512); s++) if (!probes.has(s)) return true;
      return false;
    });
    expect(notProbes, 'device reads other than the identity probe').to.deep.equal([]);
    expect(fs.readdirSync(path.join(tmp, 'xdg', 'blkfs')).filter((n) => n !== 'run'), 'cache directories').to.have.length(1);
    expect(JSON.parse(fs.readFileSync(path.join(cacheDir, 'identity.json'), 'utf8')).size, 'the hint written again').to.equal(SIZE);
  });
});
