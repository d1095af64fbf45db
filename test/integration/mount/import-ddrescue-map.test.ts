// A rescue GNU ddrescue left half done (a scratched disc: -n -N, then -n) imported into blkfs: the cache takes over its
// whole map, '-', '*' and '/' too, and blkfs acquire goes on as ddrescue resuming from that map would: no bad sector
// read again (unless --retries), '/' scraped, ending with ddrescue's own final map. ddrescue reads the medium (nbdkit,
// ddrescue filter) through nbdfuse; nbdkit's log filter counts every device read.
import { ChildProcess, spawn } from 'child_process';
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mapBlocks, mount, NbdkitServer, patternImage, rangesWithStatus, run, sleep, startNbdkit, tempDir, umount, writeMedium } from './harness';

const SIZE = 4 << 20;
// 4 KiB-aligned, so ddrescue's reads (-d, 512 bytes) meet exactly these sectors
const BAD = [
  { offset: 0x100000, length: 0x1000 },
  { offset: 0x103000, length: 0x1000 },
  { offset: 0x200000, length: 0x2000 },
];

describe("mount: import of a half-done ddrescue rescue, and acquire resuming it (real ddrescue, nbdfuse, nbdkit)", function () {
  let dir: string;
  let nbd: NbdkitServer;
  /** ddrescue's mapfiles: after -n -N (copying only), after -n (trimmed too), and after a full run resuming that. */
  const maps: Record<'copied' | 'trimmed' | 'finished', string> = { copied: '', trimmed: '', finished: '' };

  before(async () => {
    dir = tempDir('import-map');
    const medium = writeMedium(dir, patternImage(SIZE), BAD);
    nbd = await startNbdkit(dir, medium.imagePath, medium.mapPath);
    const fuseDir = path.join(dir, 'nbdfuse');
    fs.mkdirSync(fuseDir);
    const disk = path.join(fuseDir, 'disk');
    const nbdfuse = await startNbdfuse(disk, path.join(dir, 'nbd.sock'), path.join(dir, 'nbdfuse.pid'));
    try {
      const ddrescue = async (opts: string[], img: string, map: string) => {
        const r = await run('ddrescue', ['-d', '-b512', ...opts, disk, path.join(dir, img), path.join(dir, map)]);
        expect(r.code, r.stderr).to.equal(0);
        return fs.readFileSync(path.join(dir, map), 'utf8');
      };
      maps.copied = await ddrescue(['-n', '-N'], 'copied.img', 'copied.map');
      fs.copyFileSync(path.join(dir, 'copied.img'), path.join(dir, 'trimmed.img'));
      fs.copyFileSync(path.join(dir, 'copied.map'), path.join(dir, 'trimmed.map'));
      maps.trimmed = await ddrescue(['-n'], 'trimmed.img', 'trimmed.map');
      fs.copyFileSync(path.join(dir, 'trimmed.img'), path.join(dir, 'finished.img'));
      fs.copyFileSync(path.join(dir, 'trimmed.map'), path.join(dir, 'finished.map'));
      maps.finished = await ddrescue([], 'finished.img', 'finished.map');
    } finally {
      await stopNbdfuse(nbdfuse, fuseDir);
    }
    // what the test relies on: each stage leaves the statuses it is to show
    expect(statusesOf(maps.copied)).to.deep.equal(['*', '+']);
    expect(statusesOf(maps.trimmed)).to.deep.equal(['+', '-', '/']);
    expect(statusesOf(maps.finished)).to.deep.equal(['+', '-']);
  });

  after(() => cleanup(dir));

  it("import takes over ddrescue's '-' and '/'; acquire scrapes the '/', reads no '-' sector, and ends with ddrescue's map", async () => {
    const cache = path.join(dir, 'cache');
    const imp = await blkfs(['import', path.join(dir, 'trimmed.img'), path.join(dir, 'trimmed.map'), '--source', nbd.uri, '--cache', cache]);
    expect(imp.code, imp.stderr).to.equal(0);
    const bad = bytesOf(maps.trimmed, '-');
    const nonScraped = bytesOf(maps.trimmed, '/');
    expect(imp.stdout).to.contain(`marked as ddrescue left them: ${bad} bytes bad ('-'), ${nonScraped} bytes non-scraped ('/')`);
    const exported = await blkfs(['export', '--cache', cache, path.join(dir, 'a.img'), path.join(dir, 'a.map')]);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(mapBlocks(fs.readFileSync(path.join(dir, 'a.map'), 'utf8'))).to.deep.equal(mapBlocks(maps.trimmed));

    const mnt = path.join(dir, 'mnt');
    const mark = readNbdkitLog(nbd.logFile).reads.length;
    await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const acq = await blkfs(['acquire', '-q', mnt]);
    expect(acq.code, acq.stderr).to.equal(0);
    const map = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    await umount(mnt);
    const reads = readNbdkitLog(nbd.logFile).reads.slice(mark);
    const readsOf = (sector: number) => reads.filter((r) => r.offset < (sector + 1) * 512 && r.offset + r.count > sector * 512);
    for (const s of sectorsWith(maps.trimmed, '-')) expect(readsOf(s), `reads of bad sector ${s}`).to.deep.equal([]);
    for (const s of sectorsWith(maps.trimmed, '/')) expect(readsOf(s).map((r) => r.count), `reads of non-scraped sector ${s}`).to.deep.equal([512]);
    expect(mapBlocks(map)).to.deep.equal(mapBlocks(maps.finished));

    // with --retries 1, each bad sector (ddrescue's, and those the scraping found) is read once more, alone
    const mark2 = readNbdkitLog(nbd.logFile).reads.length;
    await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0', '--retries', '1']);
    const retried = await blkfs(['acquire', '-q', mnt]);
    await umount(mnt);
    expect(retried.code, retried.stderr).to.equal(0);
    const again = readNbdkitLog(nbd.logFile).reads.slice(mark2).filter((r) => rangesWithStatus(maps.finished, '-').some((b) => r.offset < b.offset + b.length && r.offset + r.count > b.offset));
    expect(again.map((r) => [r.offset, r.count, r.outcome])).to.deep.equal(sectorsWith(maps.finished, '-').map((s) => [s * 512, 512, 'failed']));
  });

  it("import takes over ddrescue's non-trimmed areas ('*'), and export gives its map back", async () => {
    const cache = path.join(dir, 'cache-copied');
    const imp = await blkfs(['import', path.join(dir, 'copied.img'), path.join(dir, 'copied.map'), '--source', nbd.uri, '--cache', cache]);
    expect(imp.code, imp.stderr).to.equal(0);
    expect(imp.stdout).to.contain(`marked as ddrescue left them: ${bytesOf(maps.copied, '*')} bytes non-trimmed ('*')`);
    const exported = await blkfs(['export', '--cache', cache, path.join(dir, 'b.img'), path.join(dir, 'b.map')]);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(mapBlocks(fs.readFileSync(path.join(dir, 'b.map'), 'utf8'))).to.deep.equal(mapBlocks(maps.copied));
  });
});

function statusesOf(map: string): string[] {
  return [...new Set(mapBlocks(map).map((b) => b.status))].sort();
}

function bytesOf(map: string, status: string): number {
  return rangesWithStatus(map, status).reduce((n, r) => n + r.length, 0);
}

function sectorsWith(map: string, status: string): number[] {
  return rangesWithStatus(map, status).flatMap((r) => Array.from({ length: r.length / 512 }, (_, i) => r.offset / 512 + i));
}

/** nbdfuse (read-only) serving the NBD export on `socket` as the file `disk`, once its pid file says it is ready. */
async function startNbdfuse(disk: string, socket: string, pidfile: string): Promise<ChildProcess> {
  const child = spawn('nbdfuse', ['-r', '-P', pidfile, disk, '--unix', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.resume();
  const until = Date.now() + 10_000;
  while (!fs.existsSync(pidfile) || fs.readFileSync(pidfile, 'utf8').trim() === '') {
    if (Date.now() > until || child.exitCode !== null) {
      child.kill();
      throw new Error('nbdfuse did not start');
    }
    await sleep(20);
  }
  return child;
}

/** Unmounts nbdfuse's mount and waits for it to exit. */
async function stopNbdfuse(child: ChildProcess, mountpoint: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const u = await run('fusermount3', ['-u', mountpoint]);
  if (u.code !== 0) child.kill('SIGTERM');
  await exited;
}
