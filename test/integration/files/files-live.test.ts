// The live file report of a mount (real FUSE, nbdkit with the ddrescue filter for exact bad ranges, TSK reading
// the mount's own /raw): before the acquisition files are incomplete, after it exactly the files under bad
// ranges are damaged; the exported image gives the same report offline; acquire --files reads the chosen
// files first (device read order from nbdkit's log filter).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { EntryReport, FileReportJson } from '../../../src/files/file-report';
import { mountAt } from '../../../src/fuse/mountinfo';
import { overlaps as overlapsOf, readNbdkitLog, Range, union } from '../../helpers/nbdkit-log';
import { ext4Image, fatImage, offsetOf, randomTree, Tree } from '../../helpers/filesystems';
import { blkfs, cleanup, MAIN_JS, MapBlock, mapBlocks, mount, readStatus, sleep, start, startNbdkit, tempDir, truthMapfile, umount } from '../mount/harness';

const TREE_SIZES = {
  'keep.txt': 3000,
  'photos/a.jpg': 200_000,
  'photos/b.jpg': 30_000,
  'docs/y.txt': 500,
  'docs/deep/deepfile-unique.bin': 9000,
  'big/other.bin': 600_000,
};

function entry(rep: FileReportJson, p: string): EntryReport | undefined {
  return rep.entries.find((e) => e.path === p);
}

function overlaps(r: Range, ranges: Range[]): boolean {
  return ranges.some((x) => r.offset < x.offset + x.length && x.offset < r.offset + r.length);
}

/** Bytes of [offset, offset+length) per status in a mapfile's blocks, independently of the report's join. */
function countBytes(blocks: MapBlock[], offset: number, length: number): { rescued: number; bad: number; untried: number } {
  const n = { rescued: 0, bad: 0, untried: 0 };
  for (const b of blocks) {
    const overlap = Math.max(0, Math.min(b.pos + b.size, offset + length) - Math.max(b.pos, offset));
    if (b.status === '+') n.rescued += overlap;
    else if (b.status === '-') n.bad += overlap;
    else n.untried += overlap;
  }
  return n;
}

function okReads(logFile: string): Range[] {
  return readNbdkitLog(logFile)
    .reads.filter((r) => r.outcome === 'ok')
    .map((r) => ({ offset: r.offset, length: r.count }));
}

async function liveReport(mnt: string): Promise<FileReportJson> {
  const r = await blkfs(['files', mnt, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as FileReportJson;
}

describe('files: the live report of a mount (real FUSE, nbdkit, TSK on /raw)', function () {
  let dir: string;
  let tree: Tree;
  let image: string;
  let bytes: Buffer;
  let at: Record<string, number>;
  let dirBlock: number;

  before(() => {
    dir = tempDir('files-live');
    tree = randomTree(TREE_SIZES);
    image = ext4Image(dir, 'medium', tree);
    bytes = fs.readFileSync(image);
    at = Object.fromEntries(Object.entries(tree).map(([p, c]) => [p, offsetOf(bytes, c)]));
    const name = offsetOf(bytes, Buffer.from('deepfile-unique.bin'));
    dirBlock = name - (name % 1024);
  });
  after(() => cleanup(dir));

  it('incomplete before the acquisition, exactly the damaged files after it; the exported image reports the same', async () => {
    const bad = [
      { offset: at['photos/a.jpg'] + 8192, length: 1024 },
      { offset: at['photos/b.jpg'] + 29696, length: 1024 }, // b.jpg's last 304 bytes, then slack
      { offset: dirBlock, length: 1024 }, // /docs/deep's entries
      { offset: 12 << 20, length: 0x10000 }, // free space
    ];
    const truth = path.join(dir, 'truth-a.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, bad));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'a' });
    const mnt = path.join(dir, 'mnt-a');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-a')]);

    expect((await readStatus(mnt)).files).to.deep.equal({ layout: 'not read' });
    const before = await liveReport(mnt);
    // TSK read the metadata, not the medium: its filesystem autodetection (the YAFFS2 probe) alone would read
    // 9 of these 16 MiB.
    const layoutBytes = okReads(nbd.logFile).reduce((n, r) => n + r.length, 0);
    expect(layoutBytes).to.be.lessThan(3 << 20);
    const mapNow = mapBlocks(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'));
    expect(before.filesystems.map((f) => f.type)).to.deep.equal(['ext4']);
    // TSK read the metadata (and, by its 64 KiB reads, some neighbouring data): each file's counts are what the
    // map says of its bytes, and a file with untried bytes is incomplete (or damaged where it met a bad sector).
    let incomplete = 0;
    for (const p of ['/keep.txt', '/photos/a.jpg', '/photos/b.jpg', '/docs/y.txt', '/big/other.bin']) {
      const want = countBytes(mapNow, at[p.slice(1)], tree[p.slice(1)].length);
      const verdict = want.bad > 0 ? 'damaged' : want.untried > 0 ? 'incomplete' : 'intact';
      expect(entry(before, p), p).to.include({ ...want, verdict });
      if (verdict === 'incomplete') incomplete++;
    }
    expect(incomplete).to.be.at.least(3);
    expect(entry(before, '/docs/deep')).to.include({ verdict: 'damaged', ...countBytes(mapNow, dirBlock, 1024) });

    const acq = await blkfs(['acquire', '-q', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    // TSK read through the cache like any reader: no byte came from the device twice.
    const ok = okReads(nbd.logFile).sort((x, y) => x.offset - y.offset);
    for (let i = 1; i < ok.length; i++) expect(ok[i].offset, `read ${i}`).to.be.at.least(ok[i - 1].offset + ok[i - 1].length);
    const after = await liveReport(mnt);
    expect(entry(after, '/photos/a.jpg')).to.include({ verdict: 'damaged', bad: 1024, untried: 0 });
    expect(entry(after, '/photos/b.jpg')).to.include({ verdict: 'damaged', bad: 304, untried: 0 });
    for (const p of ['/keep.txt', '/docs/y.txt', '/big/other.bin']) expect(entry(after, p), p).to.include({ verdict: 'intact' });
    expect(after.entries.filter((e) => e.path.startsWith('/docs/deep/') && e.verdict === 'intact')).to.deep.equal([]);
    expect(after.summary).to.include({ damaged: 2, unreadableDirectories: 1 });
    const status = await readStatus(mnt);
    expect(status.files).to.include({ layout: 'ready', damaged: 2 });
    const text = await blkfs(['files', mnt, '--damaged']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout.split('\n').filter((l) => /^(damaged|unknown|incomplete)/.test(l)).map((l) => l.split(/ +/).pop())).to.deep.equal([
      '/docs/deep',
      '/photos/a.jpg',
      '/photos/b.jpg',
    ]);
    const csv = await fs.promises.readFile(path.join(mnt, 'files.csv'), 'utf8');
    expect(csv).to.contain('1,/photos/b.jpg,file,30000,29696,304,0,damaged,');

    const out = path.join(dir, 'export-a.img');
    const ex = await blkfs(['export', mnt, out, `${out}.map`]);
    expect(ex.code, ex.stderr).to.equal(0);
    const offline = await blkfs(['files', out, `${out}.map`, '--json']);
    expect(offline.code, offline.stderr).to.equal(0);
    expect(JSON.parse(offline.stdout)).to.deep.equal(after);
    await umount(mnt);
    await nbd.stop();
  });

  it('acquire --files reads the chosen files right after the filesystem metadata, before any other file', async () => {
    const truth = path.join(dir, 'truth-b.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, []));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'b' });
    const mnt = path.join(dir, 'mnt-b');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-b')]);
    const acq = await blkfs(['acquire', '--files', '/photos/**', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.contain('blkfs: reading the filesystem metadata first (The Sleuth Kit)\nblkfs: reading the files asked for with --files next\n');
    const reads = okReads(nbd.logFile);
    const span = (p: string): Range => ({ offset: at[p], length: tree[p].length });
    const photos = [span('photos/a.jpg'), span('photos/b.jpg')];
    const others = [span('keep.txt'), span('docs/y.txt'), span('big/other.bin'), span('docs/deep/deepfile-unique.bin')];
    // The layout phase is TSK's: its reads (up to the directory blocks) may pick up neighbouring bytes of any
    // file. After it, every photo byte is read before any byte only other files hold.
    const photosDir = offsetOf(bytes, Buffer.from('a.jpg'));
    const layoutEnd = reads.findIndex((r) => overlaps(r, [{ offset: photosDir, length: 5 }]));
    expect(layoutEnd).to.be.at.least(0);
    const later = reads.slice(layoutEnd + 1);
    const lastPhoto = later.map((r, i) => (overlaps(r, photos) ? i : -1)).reduce((a, b) => Math.max(a, b));
    const firstOtherOnly = later.findIndex((r) => overlaps(r, others) && !overlaps(r, photos));
    expect(lastPhoto).to.be.at.least(0);
    expect(firstOtherOnly).to.be.greaterThan(lastPhoto);
    const rep = await liveReport(mnt);
    expect(rep.summary).to.include({ files: 6, intact: 6 });
    await umount(mnt);
    await nbd.stop();
  });

  it('plain acquire reads the filesystem metadata alongside the copying pass: the pass reads while TSK runs, each byte once, the layout ready when acquire returns', async () => {
    const truth = path.join(dir, 'truth-c.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, []));
    // Every read takes 100 ms: the pass's first reads are under way while TSK starts.
    const nbd = await startNbdkit(dir, image, truth, { tag: 'c', rdelay: '100ms' });
    const mnt = path.join(dir, 'mnt-c');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-c')]);
    const probes = readNbdkitLog(nbd.logFile).reads.length; // the mount's identity probe
    const acq = await blkfs(['acquire', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    expect(acq.stderr).to.contain('blkfs: reading the filesystem metadata alongside the copying (The Sleuth Kit, its reads first)\n');
    expect(acq.stderr).not.to.contain('--files');
    expect(acq.stderr, 'ext4 metadata fits in the budget of device reads').not.to.contain('metadata phase stopped');
    // Not done before TSK is: the layout is there as acquire returns.
    const status = await readStatus(mnt);
    expect(status.files).to.include({ layout: 'ready', files: 6, intact: 6 });
    // The device did not wait for TSK: before TSK had read the layout, the pass's reads came back too (larger than
    // 256 KiB: TSK reads /raw through FUSE, in pieces of 128 KiB at most). Before, it was TSK's reads only. While TSK
    // runs the pass holds one device slot on a slow device like this one, so its reads alternate with TSK's.
    const logged = /^(\S+) .*file layout read by The Sleuth Kit/m.exec(fs.readFileSync((status.server as unknown as { log: string }).log, 'utf8'));
    expect(logged, 'the mount log says when TSK read the layout').not.to.equal(null);
    const layoutAt = new Date(logged![1]).getTime();
    const log = readNbdkitLog(nbd.logFile);
    const passReadsWhileTsk = log.reads.slice(probes).filter((r) => r.returnedAt! < layoutAt && r.count > 256 << 10);
    expect(passReadsWhileTsk.length, "the pass's reads done while TSK ran").to.be.at.least(3);
    // TSK and the pass read through the cache: each good byte came from the device once.
    expect(log.failed).to.deep.equal([]);
    expect(overlapsOf(log.ok)).to.deep.equal([]);
    expect(union(log.ok)).to.deep.equal([{ offset: 0, length: bytes.length }]);
    await umount(mnt);
    await nbd.stop();
  });

  it('FAT whose allocation table sector is bad: TSK cannot follow any chain, so no file is called intact', async () => {
    const fat = fatImage(dir, 'badfat', { 'one.bin': tree['photos/b.jpg'], 'two.txt': tree['keep.txt'] }, 2048);
    const fatBytes = fs.readFileSync(fat);
    // FAT1 starts after the reserved sectors (boot sector field at byte 14), by the on-disk format, not by TSK.
    const fat1 = fatBytes.readUInt16LE(14) * 512;
    const truth = path.join(dir, 'truth-e.map');
    fs.writeFileSync(truth, truthMapfile(fatBytes.length, [{ offset: fat1, length: 512 }]));
    const nbd = await startNbdkit(dir, fat, truth, { tag: 'e' });
    const mnt = path.join(dir, 'mnt-e');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-e')]);
    const rep = await liveReport(mnt);
    const names = rep.entries.filter((e) => e.kind === 'file').map((e) => [e.path.toLowerCase(), e.verdict]);
    expect(names).to.deep.equal([
      ['/one.bin', 'unknown'],
      ['/two.txt', 'unknown'],
    ]);
    await umount(mnt);
    await nbd.stop();
  });

  it('Ctrl-C, then umount, while TSK is still reading /raw for the layout: TSK is stopped each time, nothing hangs, the mount is not busy', async () => {
    const truth = path.join(dir, 'truth-d.map');
    fs.writeFileSync(truth, truthMapfile(bytes.length, []));
    const nbd = await startNbdkit(dir, image, truth, { tag: 'd', rdelay: '40ms' });
    const mnt = path.join(dir, 'mnt-d');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-d')]);
    const layoutState = async () => ((await readStatus(mnt)) as unknown as { files: { layout: string } }).files.layout;
    // Ctrl-C: the passes and TSK stop; the layout is left to be read when asked for.
    const interrupted = start(process.execPath, [MAIN_JS, 'acquire', mnt]);
    while ((await layoutState()) !== 'reading') await sleep(20);
    interrupted.child.kill('SIGINT');
    const stopped = await interrupted.result;
    expect(stopped.code, stopped.stderr).to.equal(130);
    expect(stopped.stderr).to.contain('acquisition stopped; run again to resume');
    expect(await layoutState()).to.equal('not read');
    const s = await readStatus(mnt);
    expect(s.acquiring).to.equal(false);
    expect(s.bytesUntried).to.be.greaterThan(0);

    const acquiring = blkfs(['acquire', '-q', mnt]);
    while ((await layoutState()) !== 'reading') await sleep(20);
    await sleep(200);
    const um = await blkfs(['umount', mnt]);
    expect(um.code, um.stderr).to.equal(0);
    const acq = await acquiring; // ends: its server went away
    expect(acq.stderr).to.not.contain('busy');
    expect(mountAt(mnt)).to.equal(undefined);
    await nbd.stop();
  });
});
