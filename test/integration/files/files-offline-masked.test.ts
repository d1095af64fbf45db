// `blkfs files IMAGE MAPFILE` never lets The Sleuth Kit read a byte the mapfile does not call rescued: where the map
// is not '+', the image may hold stale bytes (ddrescue -f over a used disk, a reused image file, --fill-mode), here
// the medium's own old and valid metadata, which TSK would take as read. TSK reads the image through a private FUSE
// mount of the blkfs process that answers EIO there, as a mount's /raw does, and is cleaned up on every path.
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { EntryReport, FileReportJson } from '../../../src/files/file-report';
import { FileReport } from '../../../src/files/file-report';
import { MapfileDamage } from '../../../src/files/damage-source';
import { readMediumLayout } from '../../../src/files/tsk-loaddb';
import { parseMapfile } from '../../../src/cache/mapfile';
import { mountAt } from '../../../src/fuse/mountinfo';
import { readMaskedLayout } from '../../../src/cli/masked-layout';
import { ext4Image, fatImage, randomTree, Tree } from '../../helpers/filesystems';
import { blkfs, cleanup, MAIN_JS, mount, run, RunResult, sleep, startNbdkit, tempDir, truthMapfile } from '../mount/harness';

/** Where a FAT volume keeps its allocation tables, from its boot sector (not from TSK, whose reading is under test). */
function fatTables(image: Buffer): { offset: number; length: number } {
  const bytesPerSector = image.readUInt16LE(11);
  return { offset: image.readUInt16LE(14) * bytesPerSector, length: image[16] * image.readUInt16LE(22) * bytesPerSector };
}

async function report(image: string, map: string): Promise<FileReportJson> {
  const r = await blkfs(['files', image, map, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as FileReportJson;
}

function entry(rep: FileReportJson, p: string): EntryReport | undefined {
  return rep.entries.find((e) => e.path.toLowerCase() === p);
}

/** Every entry as one comparable line. */
function verdicts(rep: FileReportJson): string[] {
  return rep.entries.map((e) => `${e.fs} ${e.path} ${e.kind} ${e.verdict} size=${e.size} rescued=${e.rescued} bad=${e.bad} untried=${e.untried}`).sort();
}

/**
 * The private mounts of this file's `blkfs files` runs (children of this process) and any left by a process that is
 * gone: not those of another test file's runs going on beside this one (make test runs two files at once).
 */
function privateMounts(): string[] {
  const ours = (mnt: string) => {
    const pid = Number(/\/blkfs-private-(\d+)-/.exec(mnt)?.[1]);
    try {
      return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) === process.pid;
    } catch {
      return true; // its process is gone: a mount nobody will take down
    }
  };
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - fuse.blkfs-private '))
    .map((l) => l.split(' ')[4])
    .filter(ours);
}

/** The tsk_loaddb a `blkfs files` process runs, once it runs: its pid and the file it reads (on the private mount). */
async function tskOf(parent: number): Promise<{ pid: number; image: string }> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
        if (!/^Name:\s+tsk_loaddb$/m.test(status) || Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== parent) continue;
        const args = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
        return { pid: Number(name), image: args[args.length - 1] };
      } catch {
        /* gone meanwhile */
      }
    }
    await sleep(10);
  }
  throw new Error(`no tsk_loaddb under pid ${parent}`);
}

function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** `blkfs files ARGS` with the child at hand, to signal it; says how it ended (exit code or signal). */
function startFiles(args: string[]) {
  const child = spawn(process.execPath, [MAIN_JS, 'files', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, ended };
}

describe('files: blkfs files IMAGE MAPFILE never lets TSK read bytes the mapfile does not call rescued', function () {
  let dir: string;
  let tree: Tree;
  /** 64 MiB of FAT16 with one bad sector in its FAT: TSK reads for about a second through the private mount. */
  let slow: { image: string; map: string };

  before(() => {
    dir = tempDir('files-masked');
    tree = randomTree({ 'big.bin': 30000, 'small.txt': 500, 'docs/y.txt': 700 });
    const image = fatImage(dir, 'slow', { 'big.bin': tree['big.bin'] }, 65536);
    const fat = fatTables(fs.readFileSync(image));
    slow = { image, map: path.join(dir, 'slow.map') };
    fs.writeFileSync(slow.map, truthMapfile(fs.statSync(image).size, [{ offset: fat.offset, length: 512 }]));
  });
  after(() => cleanup(dir));

  it('FAT: its tables bad in the mapfile but still in the image (old, valid bytes): the file they chain is unknown, never intact', async () => {
    const image = fatImage(dir, 'stalefat', { 'big.bin': tree['big.bin'], 'small.txt': tree['small.txt'] });
    const bytes = fs.readFileSync(image);
    const fat = fatTables(bytes);
    const map = path.join(dir, 'stalefat.map');
    fs.writeFileSync(map, truthMapfile(bytes.length, [fat])); // the image keeps its FAT bytes: only the mapfile says bad
    const rep = await report(image, map);
    expect(entry(rep, '/big.bin')).to.include({ verdict: 'unknown' });
    expect(entry(rep, '/big.bin')!.reason).to.match(/could not read its metadata/);
    // One cluster: its directory entry alone says where it lies, no FAT needed.
    expect(entry(rep, '/small.txt')).to.include({ verdict: 'intact', rescued: 500 });
    expect(rep.summary).to.include({ files: 2, intact: 1, unknown: 1 });
    expect(rep.filesystems[0]).to.include({ metadataBad: fat.length });
    expect(privateMounts()).to.deep.equal([]);
  });

  it('ext4: an inode bad in the mapfile but still in the image is not read: its file is unknown, as when the image holds zeros there', async () => {
    const image = ext4Image(dir, 'staleinode', tree);
    // Where each file's inode lies, from e2fsprogs (not TSK): "located at block B, offset 0xO".
    const inodeSector = (p: string) => {
      const out = execFileSync('debugfs', ['-R', `imap /${p}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out)!;
      const at = Number(m[1]) * 1024 + parseInt(m[2], 16);
      return at - (at % 512);
    };
    const bad = inodeSector('big.bin');
    const map = path.join(dir, 'staleinode.map');
    fs.writeFileSync(map, truthMapfile(fs.statSync(image).size, [{ offset: bad, length: 512 }]));
    const rep = await report(image, map);
    for (const p of Object.keys(tree)) {
      const e = entry(rep, `/${p}`);
      if (inodeSector(p) === bad) {
        expect(e, p).to.include({ verdict: 'unknown' });
        expect(e!.reason, p).to.match(/could not read its metadata/);
      } else expect(e, p).to.include({ verdict: 'intact' });
    }
  });

  it('the masked offline report is the live report of the same medium (nbdkit, mount, acquire, TSK on /raw)', async () => {
    const image = fatImage(dir, 'twin', { 'big.bin': tree['big.bin'], 'small.txt': tree['small.txt'], 'docs/y.txt': tree['docs/y.txt'] });
    const bytes = fs.readFileSync(image);
    const fat = fatTables(bytes);
    const map = path.join(dir, 'twin.map');
    fs.writeFileSync(map, truthMapfile(bytes.length, [{ offset: fat.offset, length: 1024 }]));
    const offline = await report(image, map);
    const nbd = await startNbdkit(dir, image, map, { tag: 'twin' });
    const mnt = path.join(dir, 'twin-mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'twin-cache')]);
    const acquired = await blkfs(['acquire', '-q', mnt]);
    expect(acquired.code, acquired.stderr).to.equal(0);
    const live = await blkfs(['files', mnt, '--json']);
    expect(live.code, live.stderr).to.equal(0);
    const liveReport = JSON.parse(live.stdout) as FileReportJson;
    expect(verdicts(offline)).to.deep.equal(verdicts(liveReport));
    expect(offline.summary).to.deep.equal(liveReport.summary);
    expect(offline.summary.unknown).to.be.greaterThan(0);
  });

  it('a fully rescued image is read as it is, with no mount: the very report TSK on the image file gives', async () => {
    const image = ext4Image(dir, 'whole', tree);
    const size = fs.statSync(image).size;
    const map = path.join(dir, 'whole.map');
    fs.writeFileSync(map, truthMapfile(size, []));
    const expected = new FileReport(await readMediumLayout(image), new MapfileDamage(parseMapfile(fs.readFileSync(map, 'utf8')).blocks, size)).toJSON();
    expect(await report(image, map)).to.deep.equal(expected);
  });

  it('where every byte is rescued, TSK reads the same layout through the private mount as from the image file', async () => {
    const image = fatImage(dir, 'through', tree);
    const size = fs.statSync(image).size;
    const direct = await readMediumLayout(image);
    expect(direct.entries.filter((e) => e.kind === 'file')).to.have.length(3);
    expect(await readMaskedLayout(image, [[0, size]], size)).to.deep.equal(direct);
    expect(privateMounts()).to.deep.equal([]);
  });

  it('Ctrl-C while TSK reads: TSK stopped, the private mount and its directory gone, no report, the process ends by SIGINT', async () => {
    const files = startFiles([slow.image, slow.map]);
    const tsk = await tskOf(files.child.pid!);
    const mnt = path.dirname(tsk.image);
    expect(mountAt(mnt)?.fstype).to.equal('fuse.blkfs-private');
    files.child.kill('SIGINT');
    const r = await files.ended;
    expect([r.code, r.signal]).to.deep.equal([null, 'SIGINT']);
    expect(r.stdout).to.equal('');
    expect(mountAt(mnt)).to.equal(undefined);
    expect(fs.existsSync(path.dirname(mnt))).to.equal(false);
    expect(running(tsk.pid)).to.equal(false);
  });

  it('killed (SIGKILL) while TSK reads: fusermount unmounts the private mount all the same (auto_unmount); the next run removes what it left', async () => {
    const files = startFiles([slow.image, slow.map]);
    const killed = files.child.pid!;
    const tsk = await tskOf(killed);
    const mnt = path.dirname(tsk.image);
    files.child.kill('SIGKILL');
    await files.ended;
    for (let i = 0; i < 100 && mountAt(mnt); i++) await sleep(50);
    expect(mountAt(mnt)).to.equal(undefined);
    for (let i = 0; i < 100 && running(tsk.pid); i++) await sleep(50);
    expect(running(tsk.pid)).to.equal(false);
    // What a killed process cannot remove: its private mount's empty directories and TSK's database directory.
    const leftBy = (pid: number) => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(`blkfs-private-${pid}-`) || n.startsWith(`blkfs-tsk-${pid}-`));
    expect(leftBy(killed)).to.have.length(2);
    expect(path.dirname(mnt)).to.equal(path.join(os.tmpdir(), leftBy(killed).find((n) => n.startsWith('blkfs-private-'))!));

    const whole = fatImage(dir, 'after-kill', { 'small.txt': tree['small.txt'] });
    const wholeMap = path.join(dir, 'after-kill.map');
    fs.writeFileSync(wholeMap, truthMapfile(fs.statSync(whole).size, [{ offset: 0, length: 512 }]));
    await report(whole, wholeMap); // a run through the private mount, as the killed one: it makes both kinds
    expect(leftBy(killed)).to.deep.equal([]);
  });

  it('TSK cannot run (not installed): exit 2 saying so, and the private mount is gone', async () => {
    const bin = path.join(dir, 'bin-without-tsk');
    fs.mkdirSync(bin, { recursive: true });
    for (const tool of ['fusermount', 'fusermount3', 'umount']) {
      const real = ['/usr/bin', '/bin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
      if (real && !fs.existsSync(path.join(bin, tool))) fs.symlinkSync(real, path.join(bin, tool));
    }
    const before = privateMounts();
    const r: RunResult = await blkfs(['files', slow.image, slow.map], { env: { ...process.env, PATH: bin } });
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.contain('tsk_loaddb not found');
    expect(privateMounts()).to.deep.equal(before);
  });

  it('FUSE unavailable: exit 2 saying why the mount is needed; a fully rescued image is still reported', async function () {
    // /dev/fuse replaced by a plain file in a mount namespace of our own (as in a container given no FUSE device).
    try {
      execFileSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore' });
    } catch {
      this.skip(); // no right to make a mount namespace here
    }
    const fake = path.join(dir, 'not-a-fuse-device');
    fs.writeFileSync(fake, '');
    const whole = path.join(dir, 'slow-whole.map');
    fs.writeFileSync(whole, truthMapfile(fs.statSync(slow.image).size, []));
    const script = 'mount --bind "$1" /dev/fuse && exec "$2" "$3" files "$4" "$5"';
    const inNamespace = (map: string) =>
      run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', fake, process.execPath, MAIN_JS, slow.image, map]);
    const masked = await inNamespace(slow.map);
    expect(masked.code, masked.stderr).to.equal(2);
    expect(masked.stderr).to.match(/^blkfs: FUSE is not available here: .*Its mapfile does not call every byte of .* rescued \('\+'\)/);
    expect(masked.stdout).to.equal('');
    const rescued = await inNamespace(whole);
    expect(rescued.code, rescued.stderr).to.equal(0);
    expect(rescued.stdout).to.match(/^intact +30000 .*\/big\.bin$/m);
  });
});
