// GNU ddrescue driving the rescue with the mount's /mapfile as its own mapfile (real FUSE, nbdkit with bad
// ranges, real ddrescue): it finishes what an earlier reader started, reads each good byte from the device
// once, and the /mapfile it leaves is its own final map and the truth.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog, union } from '../../helpers/nbdkit-log';
import { BadRange, blkfs, cleanup, mapBlocks, mount, patternImage, readStatus, run, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';
import { parseMapfile } from '../../../src/cache/mapfile';
import { truthMapfile } from '../../helpers/truth-mapfile';

const SIZE = 8 << 20;
const BAD: BadRange[] = [
  { offset: 0x180000, length: 0x1000 },
  { offset: 0x500200, length: 0x400 },
  { offset: 0x7ffe00, length: 0x200 },
];

async function readRange(file: string, offset: number, length: number): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { bytesRead } = await fh.read(Buffer.alloc(length), 0, length, offset);
    expect(bytesRead).to.equal(length);
  } finally {
    await fh.close();
  }
}

/** A SIZE medium (a pattern, `bad` ranges) served by nbdkit with its log filter, mounted on DIR/mnt with cache DIR/cache. */
async function mountedMedium(tag: string, bad: BadRange[]) {
  const dir = tempDir(tag);
  const image = patternImage(SIZE);
  const { imagePath, mapPath } = writeMedium(dir, image, bad);
  const nbd = await startNbdkit(dir, imagePath, mapPath);
  const mnt = path.join(dir, 'mnt');
  const cacheDir = path.join(dir, 'cache');
  await mount(nbd.uri, mnt, ['--cache', cacheDir]);
  return { dir, image, mnt, cacheDir, nbdLog: nbd.logFile };
}

describe('ddrescue with /mapfile as its own mapfile', function () {
  this.timeout(120_000);
  let dir: string;
  let image: Buffer;
  let mnt: string;
  let cacheDir: string;
  let nbdLog: string;

  before(async () => {
    ({ dir, image, mnt, cacheDir, nbdLog } = await mountedMedium('ddrescue-driver', BAD));
  });

  after(() => cleanup(dir));

  it('finishes a partly read medium: rc 0, the image right at every +, /mapfile = ddrescue\'s map = the truth, each good byte read once', async () => {
    const raw = path.join(mnt, 'raw');
    // Someone read two areas first; export gives ddrescue the image of what is cached.
    await readRange(raw, 0, 0x100000);
    await readRange(raw, 0x300000, 0x80000);
    const disk = path.join(dir, 'disk.img');
    const ex = await blkfs(['export', mnt, disk]);
    expect(ex.code, ex.stderr).to.equal(0);

    // Slowed down and told to save its map every second: several saves land mid-rescue, not just the last.
    const r = await run('ddrescue', ['-d', '-b512', '-r1', '--max-read-rate=3M', '--mapfile-interval=1', raw, disk, path.join(mnt, 'mapfile')]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);

    const live = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'latin1');
    const parsed = parseMapfile(live);
    // The truth: every bad range '-', everything else '+', and ddrescue's final status line.
    expect(mapBlocks(live)).to.deep.equal(mapBlocks(truthMapfile(SIZE, BAD)));
    expect(parsed.phase).to.equal('+');
    // ddrescue's own last write, kept verbatim, has the same blocks and status line.
    const own = parseMapfile(await fs.promises.readFile(path.join(cacheDir, 'ddrescue.map'), 'latin1'));
    expect(own.blocks).to.deep.equal(parsed.blocks);
    expect([own.currentPos, own.phase, own.pass]).to.deep.equal([parsed.currentPos, parsed.phase, parsed.pass]);

    // disk.img equals the medium at every '+'.
    const copy = await fs.promises.readFile(disk);
    for (const b of parsed.blocks.filter((x) => x.status === '+')) {
      expect(copy.subarray(b.pos, b.pos + b.size).equals(image.subarray(b.pos, b.pos + b.size)), `at ${b.pos}`).to.equal(true);
    }

    // Each good byte came from the device once, whoever asked (the first reader, ddrescue's passes and retries).
    const log = readNbdkitLog(nbdLog);
    expect(overlaps(log.ok)).to.deep.equal([]);
    const good = SIZE - BAD.reduce((n, b) => n + b.length, 0);
    expect(union(log.ok).reduce((n, x) => n + x.length, 0)).to.equal(good);

    const status = (await readStatus(mnt)) as unknown as { driver: { program: string; phase: string } };
    expect(status.driver.program).to.equal('ddrescue');
    expect(status.driver.phase).to.equal('+');
    const mountLog = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect((mountLog.match(/mapfile written by ddrescue/g) ?? []).length).to.be.at.least(2);
    // ddrescue's view and the cache never disagreed on the way (nothing refused, nothing kept against it).
    expect(mountLog).to.not.match(/mapfile write: (kept|refused)/);
  });

  it('a write that is not a mapfile is refused at close with the line named in the mount log; the map is unchanged', async () => {
    const before = mapBlocks(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'latin1'));
    const err = await fs.promises.writeFile(path.join(mnt, 'mapfile'), '0x0 + 1\n0x0 0x200 +\n0x400 0x200 -\n').catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException)?.code).to.equal('EINVAL');
    expect(mapBlocks(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'latin1'))).to.deep.equal(before);
    const mountLog = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect(mountLog).to.match(/mapfile write refused: Error in mapfile, line 3: Blocks are not contiguous/);
  });

  it("a write never claims '+' the cache does not hold; what it calls untried shows so, though cached (read again from the cache)", async () => {
    const mf = path.join(mnt, 'mapfile');
    // Claim everything untried except a bad range claimed rescued.
    const forged = `0x0 ? 1\n0x00000000  0x00180000  ?\n0x00180000  0x00001000  +\n0x00181000  ${'0x' + (SIZE - 0x181000).toString(16)}  ?\n`;
    await fs.promises.writeFile(mf, forged);
    const after = mapBlocks(await fs.promises.readFile(mf, 'latin1'));
    // '?' where the writer says so, '-' where the device said so (its '+' there refused)
    expect(after).to.deep.equal(mapBlocks(truthMapfile(SIZE, BAD)).map((b) => ({ ...b, status: b.status === '+' ? '?' : b.status })));
    const mountLog = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect(mountLog).to.match(/refused '\+' for 4096 bytes at 1572864/);
    expect((await readStatus(mnt)).bytesCached).to.equal(SIZE - 0x1000 - 0x400 - 0x200); // the cache is not downgraded
  });
});

describe('ddrescue through /mapfile on an image exported earlier, with other reads since', function () {
  this.timeout(120_000);
  const size = 8 << 20;
  let dir: string;
  let image: Buffer;
  let uri: string;

  before(async () => {
    dir = tempDir('ddrescue-resume');
    image = patternImage(size);
    const { imagePath, mapPath } = writeMedium(dir, image, []);
    ({ uri } = await startNbdkit(dir, imagePath, mapPath));
  });
  after(() => cleanup(dir));

  /** A mount with the default readahead (4 MiB ahead of a sequential reader) and its exported image. */
  async function mountAndExport(tag: string): Promise<{ mnt: string; raw: string; mf: string; disk: string }> {
    const mnt = path.join(dir, `mnt-${tag}`);
    await mount(uri, mnt, ['--cache', path.join(dir, `cache-${tag}`)]);
    const disk = path.join(dir, `${tag}.img`);
    expect((await blkfs(['export', mnt, disk])).code).to.equal(0);
    return { mnt, raw: path.join(mnt, 'raw'), mf: path.join(mnt, 'mapfile'), disk };
  }

  it('a first run on a new image, without an export, copies what the cache holds from the cache: its image equals the medium', async () => {
    const mnt = path.join(dir, 'mnt-new');
    await mount(uri, mnt, ['--cache', path.join(dir, 'cache-new')]);
    const m = { mnt, raw: path.join(mnt, 'raw'), mf: path.join(mnt, 'mapfile'), disk: path.join(dir, 'new.img') };
    await readRange(m.raw, 2 << 20, 1 << 20); // read before ddrescue starts; disk.img does not exist yet
    await finish(m);
  });

  async function finish(m: { mnt: string; raw: string; mf: string; disk: string }): Promise<void> {
    const r = await run('ddrescue', ['-d', '-b512', m.raw, m.disk, m.mf]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(mapBlocks(await fs.promises.readFile(m.mf, 'latin1'))).to.deep.equal([{ pos: 0, size, status: '+' }]);
    expect((await fs.promises.readFile(m.disk)).equals(image), 'the image ddrescue made is the medium').to.equal(true);
    await umount(m.mnt);
  }

  it('a stopped run, resumed, reads again (from the cache) what was read ahead of it: its image equals the medium', async () => {
    const m = await mountAndExport('resume');
    // A first run that stops after 1 MiB (as if interrupted): the cache read further ahead than ddrescue got.
    const first = await run('ddrescue', ['-d', '-b512', '-s', String(1 << 20), m.raw, m.disk, m.mf]);
    expect(first.code, first.stderr + first.stdout).to.equal(0);
    expect((await readStatus(m.mnt)).bytesCached).to.be.above(2 << 20);
    await finish(m);
  });

  it('a run killed while saving its map (the save cut after its first block), resumed, copies the rest: its image equals the medium', async () => {
    const mnt = path.join(dir, 'mnt-cut');
    await mount(uri, mnt, ['--cache', path.join(dir, 'cache-cut')]);
    const m = { mnt, raw: path.join(mnt, 'raw'), mf: path.join(mnt, 'mapfile'), disk: path.join(dir, 'cut.img') };
    expect((await blkfs(['acquire', '-q', mnt])).code).to.equal(0); // the cache holds all; the new image holds nothing
    const first = await run('ddrescue', ['-d', '-b512', '-s', String(1 << 20), m.raw, m.disk, m.mf]);
    expect(first.code, first.stderr + first.stdout).to.equal(0);
    // What the kernel hands over when ddrescue dies mid-save: the lines written so far, up to its first block.
    const saved = await fs.promises.readFile(m.mf, 'latin1');
    await fs.promises.writeFile(m.mf, saved.slice(0, saved.indexOf('\n', saved.indexOf('0x00000000  0x00100000  +'))));
    await finish(m);
  });

  it('a run on an older image of something else, not the one exported, is not shown the export\'s map: its image equals the medium', async () => {
    const m = await mountAndExport('other');
    const older = path.join(dir, 'older.img');
    await fs.promises.writeFile(older, Buffer.alloc(size, 0xee)); // holds data, none of it this medium's
    expect((await readStatus(m.mnt)).bytesCached, 'the export holds something ddrescue could skip').to.be.above(0);
    await finish({ ...m, disk: older });
  });

  it('a first run started after other reads since the export gets the export\'s map: its image equals the medium', async () => {
    const m = await mountAndExport('late');
    await readRange(m.raw, 3 << 20, 1 << 20); // someone reads after the export, before ddrescue starts
    expect((await readStatus(m.mnt)).bytesCached).to.be.above(1 << 20);
    await finish(m);
  });
});

describe('ddrescue through /mapfile on a new image after ddrescue drove the cache with another', function () {
  this.timeout(120_000);
  const size = SIZE;
  let dir: string;
  let image: Buffer;
  let nbdLog: string;
  let mnt: string;
  let cacheDir: string;

  before(async () => {
    ({ dir, image, mnt, cacheDir, nbdLog } = await mountedMedium('ddrescue-newimage', []));
  });
  after(() => cleanup(dir));

  it('a new image gets what the cache holds from the cache, not the old image\'s map: it equals the medium at every +, no sector read twice', async () => {
    const raw = path.join(mnt, 'raw');
    const mf = path.join(mnt, 'mapfile');
    // Image A: a run stopped after 1 MiB (the readahead cached more); its map, kept by the mount, says A holds 1 MiB.
    const a = await run('ddrescue', ['-d', '-b512', '-s', String(1 << 20), raw, path.join(dir, 'A.img'), mf]);
    expect(a.code, a.stderr + a.stdout).to.equal(0);
    expect(fs.existsSync(path.join(cacheDir, 'ddrescue.map'))).to.equal(true);
    const readsBefore = readNbdkitLog(nbdLog).ok.length;

    // Image B, `blkfs export` forgotten: B holds nothing yet, so nothing may be skipped.
    const bImg = path.join(dir, 'B.img');
    const b = await run('ddrescue', ['-d', '-b512', raw, bImg, mf]);
    expect(b.code, b.stderr + b.stdout).to.equal(0);
    const final = parseMapfile(await fs.promises.readFile(mf, 'latin1'));
    expect(mapBlocks(await fs.promises.readFile(mf, 'latin1'))).to.deep.equal([{ pos: 0, size, status: '+' }]);
    const copy = await fs.promises.readFile(bImg);
    for (const blk of final.blocks.filter((x) => x.status === '+')) {
      expect(copy.subarray(blk.pos, blk.pos + blk.size).equals(image.subarray(blk.pos, blk.pos + blk.size)), `B at ${blk.pos}`).to.equal(true);
    }
    // What A's run cached came from the cache: no sector was read from the device twice, and B's run read some.
    const log = readNbdkitLog(nbdLog);
    expect(overlaps(log.ok)).to.deep.equal([]);
    expect(log.ok.length).to.be.above(readsBefore);
    expect(union(log.ok).reduce((n, x) => n + x.length, 0)).to.equal(size);

    // B continued (same image) is not new: ddrescue finds it finished.
    const again = await run('ddrescue', ['-d', '-b512', raw, bImg, mf]);
    expect(again.code, again.stderr + again.stdout).to.equal(0);
    const mountLog = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect((mountLog.match(/ddrescue opened it for a new image/g) ?? []).length, mountLog).to.equal(1);
    expect(mountLog).to.include(`for a new image ${bImg} (the map kept is of ${path.join(dir, 'A.img')})`);
  });
});
