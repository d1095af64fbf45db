// Outputs never destroy inputs (issue 8): every command that writes refuses, exit 1, when its output is one of
// its inputs (through a symlink too) or lies inside a blkfs cache directory, and the input stays byte-identical.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect } from 'chai';
import * as harness from '../mount/harness';
import { lcgBytes } from '../../helpers/seeded-random';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');

function blkfs(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, input: '', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout.toString() + r.stderr.toString() };
}
const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('outputs never destroy inputs', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-guard-'));
    fs.writeFileSync(path.join(dir, 'big.bin'), lcgBytes(300_000, 1));
    expect(blkfs(['sbx', 'encode', 'big.bin', 'c.ecsbx'], dir).code).to.equal(0);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs `args` and checks: exit 1, a message naming the paths, `file` unchanged. */
  function refused(args: string[], file: string, says: RegExp): void {
    const before = sha(path.join(dir, file));
    const r = blkfs(args, dir);
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(says);
    expect(sha(path.join(dir, file))).to.equal(before);
  }

  /** Runs `body` on a 256 KiB tmpfs at dir/NAME (a disk that fills up), beside small.bin; skipped where tmpfs cannot be mounted. */
  function onSmallDisk(ctx: Mocha.Context, name: string, body: (full: string) => void): void {
    const full = path.join(dir, name);
    fs.mkdirSync(full);
    if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', full]).status !== 0) ctx.skip(); // needs root
    try {
      fs.writeFileSync(path.join(dir, 'small.bin'), lcgBytes(50_000, 2));
      body(full);
    } finally {
      spawnSync('umount', [full]);
    }
  }

  it('sbx encode -f onto an earlier container that fails part-way (a full disk): exit 2, the earlier container kept, the partial one beside it', function () {
    onSmallDisk(this, 'full', (full) => {
      const out = path.join(full, 'o.sbx');
      expect(blkfs(['sbx', 'encode', 'small.bin', out], dir).code).to.equal(0);
      expect(blkfs(['sbx', 'show', out], dir).out).to.match(/SBX container name\s+: o\.sbx\n/); // written beside, named as OUT
      const before = sha(out);
      const r = blkfs(['sbx', 'encode', '-f', 'big.bin', out], dir); // ~400 kB: does not fit
      expect(r.code, r.out).to.equal(2);
      expect(r.out).to.contain('ENOSPC').and.contain(`what was written is kept in "${out}.incomplete"`);
      expect(sha(out)).to.equal(before);
      expect(fs.readdirSync(full).sort()).to.deep.equal(['o.sbx', 'o.sbx.incomplete']);
    });
  });

  it('sbx decode -f onto an earlier output that fails part-way (a full disk): exit 2, the earlier output kept, the partial one beside it', function () {
    onSmallDisk(this, 'full-decode', (full) => {
      expect(blkfs(['sbx', 'encode', '-f', 'small.bin', 'small.sbx'], dir).code).to.equal(0);
      const out = path.join(full, 'out.bin');
      expect(blkfs(['sbx', 'decode', 'small.sbx', out], dir).code).to.equal(0);
      fs.writeFileSync(path.join(full, 'filler'), Buffer.alloc(100_000));
      const r = blkfs(['sbx', 'decode', '-f', 'c.ecsbx', out], dir); // 300 kB: does not fit
      expect(r.code, r.out).to.equal(2);
      expect(r.out).to.contain('ENOSPC').and.contain(`what was written is kept in "${out}.incomplete"`);
      expect(fs.readFileSync(out).equals(fs.readFileSync(path.join(dir, 'small.bin')))).to.equal(true);
      expect(fs.readdirSync(full).sort()).to.deep.equal(['filler', 'out.bin', 'out.bin.incomplete']);
    });
  });

  it('sbx sort -f onto an earlier output that fails part-way (a full disk): exit 2, the earlier output kept, the partial one beside it', function () {
    onSmallDisk(this, 'full-sort', (full) => {
      expect(blkfs(['sbx', 'encode', '-f', 'small.bin', 'small.sbx'], dir).code).to.equal(0);
      const out = path.join(full, 'out.sorted');
      expect(blkfs(['sbx', 'sort', 'small.sbx', out], dir).code).to.equal(0);
      const before = sha(out);
      const r = blkfs(['sbx', 'sort', '-f', 'c.ecsbx', out], dir); // over 300 kB: does not fit
      expect(r.code, r.out).to.equal(2);
      expect(r.out).to.contain('ENOSPC');
      expect(sha(out)).to.equal(before);
      expect(fs.readdirSync(full).sort()).to.deep.equal(['out.sorted', 'out.sorted.incomplete']);
    });
  });

  it('sbx encode -f big.bin big.bin: exit 1, big.bin untouched', () => {
    refused(['sbx', 'encode', '-f', 'big.bin', 'big.bin'], 'big.bin', /Refusing to write "big\.bin": it is the input "big\.bin"/);
  });

  it('sbx decode -f c.ecsbx c.ecsbx: exit 1, the container untouched', () => {
    refused(['sbx', 'decode', '-f', 'c.ecsbx', 'c.ecsbx'], 'c.ecsbx', /Refusing to write "c\.ecsbx": it is the input "c\.ecsbx"/);
  });

  it('an input named OUT.blkfs-partial.PID (a partial file of OUT, removed once that process is gone) is refused; OUT.blkfs-partial is safe', () => {
    fs.copyFileSync(path.join(dir, 'c.ecsbx'), path.join(dir, 'x.ecsbx.blkfs-partial.77'));
    refused(['sbx', 'sort', 'x.ecsbx.blkfs-partial.77', 'x.ecsbx'], 'x.ecsbx.blkfs-partial.77', /Refusing to write "x\.ecsbx": the input "x\.ecsbx\.blkfs-partial\.77" is named as a partial file of it/);
    refused(['sbx', 'decode', 'x.ecsbx.blkfs-partial.77', 'x.ecsbx'], 'x.ecsbx.blkfs-partial.77', /the input "x\.ecsbx\.blkfs-partial\.77"/);
    fs.copyFileSync(path.join(dir, 'big.bin'), path.join(dir, 'y.blkfs-partial.77'));
    refused(['sbx', 'encode', 'y.blkfs-partial.77', 'y'], 'y.blkfs-partial.77', /the input "y\.blkfs-partial\.77"/);
    fs.writeFileSync(path.join(dir, 'z.png.blkfs-partial.77'), '0x0 + 1\n0x0 0x400 +\n');
    refused(['map', 'z.png.blkfs-partial.77', '-o', 'z.png'], 'z.png.blkfs-partial.77', /the input "z\.png\.blkfs-partial\.77"/);
    expect(fs.existsSync(path.join(dir, 'x.ecsbx')) || fs.existsSync(path.join(dir, 'y')) || fs.existsSync(path.join(dir, 'z.png'))).to.equal(false);
    fs.copyFileSync(path.join(dir, 'c.ecsbx'), path.join(dir, 'w.ecsbx.blkfs-partial')); // the name before pids: never written
    expect(blkfs(['sbx', 'sort', 'w.ecsbx.blkfs-partial', 'w.ecsbx'], dir).code).to.equal(0);
    expect(sha(path.join(dir, 'w.ecsbx.blkfs-partial'))).to.equal(sha(path.join(dir, 'c.ecsbx')));
  });

  it('a partial file a killed run left (its process gone) is removed by the next run; one of a running process stays', () => {
    const gone = spawnSync(process.execPath, ['-p', 'process.pid']).stdout.toString().trim(); // exited: its pid is free
    fs.writeFileSync(path.join(dir, `s.ecsbx.blkfs-partial.${gone}`), 'half an output');
    fs.writeFileSync(path.join(dir, `s.ecsbx.blkfs-partial.${process.pid}`), 'another writer, still running');
    expect(blkfs(['sbx', 'sort', 'c.ecsbx', 's.ecsbx'], dir).code).to.equal(0);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('s.ecsbx'))).to.have.members(['s.ecsbx', `s.ecsbx.blkfs-partial.${process.pid}`]);
  });

  it('two encodes into one output at once: both exit 0 and the output is the last one whole (each writes its own partial file)', async () => {
    const [p, q] = [lcgBytes(2 << 20, 2), lcgBytes(2 << 20, 3)];
    fs.writeFileSync(path.join(dir, 'q.bin'), q);
    const out = path.join(dir, 'pq.ecsbx');
    // The first reads stdin and is held half-way through its output while the second runs from start to end.
    const first = harness.start(process.execPath, [MAIN, 'sbx', 'encode', '-f', '-', out], { stdin: 'pipe' });
    first.child.stdin!.write(p.subarray(0, 1 << 20));
    while (!fs.readdirSync(dir).some((f) => f.startsWith('pq.ecsbx.blkfs-partial'))) await harness.sleep(5);
    const second = await harness.run(process.execPath, [MAIN, 'sbx', 'encode', '-f', path.join(dir, 'q.bin'), out]);
    first.child.stdin!.end(p.subarray(1 << 20));
    const firstDone = await first.result;
    expect(second.code, second.stderr).to.equal(0);
    expect(firstDone.code, firstDone.stderr).to.equal(0);
    expect(blkfs(['sbx', 'decode', '-f', 'pq.ecsbx', 'pq.out'], dir).code).to.equal(0);
    expect(sha(path.join(dir, 'pq.out'))).to.equal(createHash('sha256').update(p).digest('hex'));
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('pq.ecsbx.'))).to.deep.equal([]);
  });

  it('sbx rescue whose input is LOGFILE.tmp (where the log is written before its rename) is refused', () => {
    fs.copyFileSync(path.join(dir, 'c.ecsbx'), path.join(dir, 'scan.log.tmp'));
    fs.mkdirSync(path.join(dir, 'rescued-tmp'));
    refused(['sbx', 'rescue', 'scan.log.tmp', 'rescued-tmp', 'scan.log'], 'scan.log.tmp', /Refusing to write "scan\.log\.tmp": it is the input "scan\.log\.tmp"/);
    expect(fs.readdirSync(path.join(dir, 'rescued-tmp'))).to.deep.equal([]);
  });

  it('an output that is a symlink to the input, or a hard link, is the input', () => {
    fs.symlinkSync('c.ecsbx', path.join(dir, 'link.ecsbx'));
    refused(['sbx', 'decode', '-f', 'c.ecsbx', 'link.ecsbx', '--json'], 'c.ecsbx', /"error": "Refusing to write \\"link\.ecsbx\\": it is the input \\"c\.ecsbx\\"/);
    fs.linkSync(path.join(dir, 'big.bin'), path.join(dir, 'hard.bin'));
    refused(['sbx', 'encode', '-f', 'big.bin', 'hard.bin'], 'big.bin', /it is the input "big\.bin"/);
  });

  it('decode without OUT whose stored file name is the container itself; sort and rescue into their input', () => {
    // A container whose FNM is "self": decoding it by its stored name would overwrite it.
    fs.copyFileSync(path.join(dir, 'big.bin'), path.join(dir, 'self'));
    expect(blkfs(['sbx', 'encode', 'self', 'self.ecsbx'], dir).code).to.equal(0);
    fs.renameSync(path.join(dir, 'self.ecsbx'), path.join(dir, 'self'));
    refused(['sbx', 'decode', '-f', 'self'], 'self', /Refusing to write "self": it is the input "self"/);
    refused(['sbx', 'sort', '-f', 'c.ecsbx', 'c.ecsbx'], 'c.ecsbx', /it is the input "c\.ecsbx"/);
    refused(['sbx', 'rescue', 'c.ecsbx', '.', 'c.ecsbx'], 'c.ecsbx', /it is the input "c\.ecsbx"/);
    // rescue appends to OUTDIR/<UID>: that file as the input would grow while being scanned.
    const uid = blkfs(['sbx', 'show', 'c.ecsbx', '--json'], dir).out.match(/"fileUID": "([0-9A-F]{12})"/)![1];
    fs.copyFileSync(path.join(dir, 'c.ecsbx'), path.join(dir, uid));
    refused(['sbx', 'rescue', uid, '.'], uid, new RegExp(`Refusing to write "${uid}": it is the input "${uid}"`));
  });

  it('export --cache C C/data.img (and any output inside a cache directory) is refused; import of C/data.img into C too', () => {
    const img = path.join(dir, 'medium.img');
    fs.writeFileSync(img, lcgBytes(1 << 20, 2));
    fs.writeFileSync(path.join(dir, 'medium.map'), '# Mapfile\n0x00000000 ?\n0x00000000 0x00100000 +\n');
    const imp = blkfs(['import', '--source', img, '--cache', 'C', img, 'medium.map'], dir);
    expect(imp.code, imp.out).to.equal(0);
    expect(sha(path.join(dir, 'C/data.img'))).to.equal(sha(img));
    refused(['export', '--cache', 'C', 'C/data.img'], 'C/data.img', /Refusing to write ".*\/C\/data\.img": it lies inside the blkfs cache directory ".*\/C"/);
    refused(['export', '--cache', 'C', 'C/new.img'], 'C/data.img', /inside the blkfs cache directory/);
    refused(['sbx', 'decode', 'c.ecsbx', 'C/data.img', '-f'], 'C/data.img', /inside the blkfs cache directory/);
    refused(['import', '--cache', 'C', 'C/data.img', 'medium.map'], 'C/data.img', /Refusing to read "C\/data\.img": it is a file of the cache/);
    // The data file under another name reads zeros where the cache has nothing: a hard link, or a loop device over it.
    fs.linkSync(path.join(dir, 'C/data.img'), path.join(dir, 'linked.img'));
    refused(['import', '--cache', 'C', 'linked.img', 'medium.map'], 'C/data.img', /Refusing to read "linked\.img": it is a file of the cache/);
    if (process.getuid?.() === 0) {
      const loop = spawnSync('losetup', ['-r', '-f', '--show', path.join(dir, 'C/data.img')], { encoding: 'utf8' }).stdout.trim();
      try {
        refused(['import', '--cache', 'C', loop, 'medium.map'], 'C/data.img', new RegExp(`Refusing to read "${loop}": it is a file of the cache`));
      } finally {
        spawnSync('losetup', ['-d', loop]);
      }
    }
    expect(sha(path.join(dir, 'C/data.img'))).to.equal(sha(img));
    // An ordinary output still works.
    expect(blkfs(['export', '--cache', 'C', 'out.img'], dir).code).to.equal(0);
    expect(sha(path.join(dir, 'out.img'))).to.equal(sha(img));
  });

  // The device as its own rescue image would be read a second time, outside the cache: where the cache holds the
  // sectors already (compared with the image), and where it does not (copied from the image).
  it('import --source DEVICE with DEVICE (or another device of its disk) as IMAGE is refused: the medium is read once', function () {
    if (process.getuid?.() !== 0) this.skip(); // losetup needs root
    const img = path.join(dir, 'disc.img');
    fs.writeFileSync(img, lcgBytes(1 << 20, 3));
    fs.writeFileSync(path.join(dir, 'disc.map'), '0x00000000 +\n0x00000000 0x00100000 +\n');
    const loop = spawnSync('losetup', ['-r', '-f', '--show', img], { encoding: 'utf8' }).stdout.trim();
    try {
      const r = blkfs(['import', '--source', loop, '--cache', 'D', loop, 'disc.map'], dir);
      expect(r.code, r.out).to.equal(1);
      expect(r.out).to.contain(`Refusing to read "${loop}" as IMAGE: it is the medium "${loop}"`);
    } finally {
      spawnSync('losetup', ['-d', loop]);
    }
  });

  it('export onto a full or read-only disk: exit 2 naming the output (not "cache disk full", not NAME.blkfs-partial), no image cut short left there', function () {
    onSmallDisk(this, 'full-export', (full) => {
      // 1 MiB in one write does not fit: the kernel writes what fits and says so (a short write), then ENOSPC.
      const r = blkfs(['export', '--cache', 'C', path.join(full, 'o.img'), 'o.map'], dir);
      expect(r.code, r.out).to.equal(2);
      expect(r.out).to.contain(`cannot write ${path.join(full, 'o.img')}: ENOSPC`).and.not.contain('cache disk full');
      expect(fs.readdirSync(full)).to.deep.equal([]);
      expect(fs.existsSync(path.join(dir, 'o.map'))).to.equal(false); // no map calling bytes rescued that no image holds
      expect(spawnSync('mount', ['-o', 'remount,ro', full]).status).to.equal(0);
      const ro = blkfs(['export', '--cache', 'C', path.join(full, 'o.img')], dir);
      expect(ro.code, ro.out).to.equal(2);
      expect(ro.out).to.contain(`cannot write ${path.join(full, 'o.img')}: EROFS`).and.not.contain('blkfs-partial');
    });
  });

  it('export whose mapfile cannot be written (its disk full): exit 2, the earlier image and mapfile both kept as a pair', function () {
    onSmallDisk(this, 'full-export-map', (full) => {
      const [img, map] = ['pair.img', path.join(full, 'pair.map')];
      expect(blkfs(['export', '--cache', 'C', img, map], dir).code).to.equal(0);
      const [imgIno, mapText] = [fs.statSync(path.join(dir, img)).ino, fs.readFileSync(map, 'utf8')];
      expect(() => fs.writeFileSync(path.join(full, 'filler'), Buffer.alloc(256 << 10))).to.throw(/ENOSPC/); // as much as fits
      const r = blkfs(['export', '--cache', 'C', img, map], dir);
      expect(r.code, r.out).to.equal(2);
      expect(r.out).to.contain(`cannot write ${map}: ENOSPC`);
      expect(fs.statSync(path.join(dir, img)).ino).to.equal(imgIno); // not replaced by an image the old map does not describe
      expect(fs.readFileSync(map, 'utf8')).to.equal(mapText);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith('pair.img.'))).to.deep.equal([]);
    });
  });

  it('sbx repair and update, which write their container in place, refuse a container inside a cache (its data file)', () => {
    // A medium that is a damaged container, rescued into a cache: its data file holds the container's bytes.
    const dmg = path.join(dir, 'dmg.ecsbx');
    fs.copyFileSync(path.join(dir, 'c.ecsbx'), dmg);
    const fd = fs.openSync(dmg, 'r+');
    fs.writeSync(fd, Buffer.alloc(512, 0x55), 0, 512, 4096);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dir, 'dmg.map'), `0 + 1\n0 ${fs.statSync(dmg).size} +\n`);
    expect(blkfs(['import', '--source', dmg, '--cache', 'DC', dmg, 'dmg.map'], dir).code).to.equal(0);
    refused(['sbx', 'repair', '-y', 'DC/data.img'], 'DC/data.img', /Refusing to write "DC\/data\.img": it lies inside the blkfs cache directory ".*\/DC"/);
    refused(['sbx', 'update', '-y', '--snm', 'x', 'DC/data.img'], 'DC/data.img', /inside the blkfs cache directory/);
    expect(blkfs(['sbx', 'repair', '--dry-run', 'DC/data.img'], dir).code).to.equal(0); // reading it is fine
    expect(blkfs(['verify', '--cache', 'DC'], dir).code).to.equal(0);
  });

  it('export --cache C onto the image file C was read from is refused while nothing serves it; the medium stays intact', () => {
    // C was seeded by `import --source medium.img` above.
    refused(['export', '--cache', 'C', 'medium.img'], 'medium.img', /Refusing to write ".*\/medium\.img": it is the image file this cache was read from/);
  });

  it('export whose mapfile is named as its image is refused: one file cannot be both outputs', () => {
    const r = blkfs(['export', '--cache', 'C', 'both.img', './both.img'], dir);
    expect(r.code, r.out).to.equal(1);
    expect(r.out).to.match(/Refusing to write ".*\/both\.img" twice: it is also the output ".*\/both\.img"/);
    expect(fs.existsSync(path.join(dir, 'both.img'))).to.equal(false);
  });

  it('export onto the served image is refused from any directory, when the mount named its source relatively', () => {
    const img = path.join(dir, 'relative.img');
    fs.writeFileSync(img, lcgBytes(1 << 20, 4));
    const before = sha(img);
    fs.mkdirSync(path.join(dir, 'mnt-rel'));
    const m = blkfs(['mount', 'relative.img', 'mnt-rel', '--cache', 'relative-cache'], dir);
    expect(m.code, m.out).to.equal(0);
    try {
      const r = blkfs(['export', path.join(dir, 'mnt-rel'), img], os.tmpdir());
      expect(r.code, r.out).to.equal(1);
      expect(r.out).to.contain(`Refusing to write "${img}": it is the input "${img}"`);
      expect(sha(img)).to.equal(before);
    } finally {
      expect(blkfs(['umount', 'mnt-rel'], dir).code).to.equal(0);
    }
  });

  it('export of a mount onto the image file it serves is refused; the image stays intact', async () => {
    const img = path.join(dir, 'served.img');
    fs.writeFileSync(img, lcgBytes(1 << 20, 3));
    const before = sha(img);
    const mnt = path.join(dir, 'mnt');
    try {
      await harness.mount(img, mnt, ['--cache', path.join(dir, 'served-cache')]);
      const r = await harness.blkfs(['export', mnt, img]);
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`Refusing to write "${img}": it is the input "${img}"`);
      expect(sha(img)).to.equal(before);
      // Into the mount itself: a clear exit 1, not EROFS/ENOSYS as a failure (exit 2).
      const into = await harness.blkfs(['export', mnt, path.join(mnt, 'copy.img')]);
      expect(into.code, into.stderr).to.equal(1);
      expect(into.stderr).to.contain(`it lies inside the blkfs mount "${mnt}", which is read-only`);
      const decode = blkfs(['sbx', 'decode', '-f', 'c.ecsbx', path.join(mnt, 'sbx', 'out.bin')], dir);
      expect(decode.code, decode.out).to.equal(1);
      expect(decode.out).to.contain('inside the blkfs mount');
    } finally {
      await harness.cleanup();
    }
  });

  it('sbx decode to "-" checks what standard output is: the container itself (1<> IN) is refused, a pipe is fine', () => {
    const before = sha(path.join(dir, 'c.ecsbx'));
    const sh = (cmd: string) => spawnSync('bash', ['-c', cmd], { cwd: dir, input: '' });
    const r = sh(`"${process.execPath}" "${MAIN}" sbx decode c.ecsbx - 1<>c.ecsbx`);
    expect(r.status, r.stderr.toString()).to.equal(1);
    expect(r.stderr.toString()).to.match(/Refusing to write standard output: it is the input/);
    expect(sha(path.join(dir, 'c.ecsbx'))).to.equal(before);
    const piped = sh(`"${process.execPath}" "${MAIN}" sbx decode c.ecsbx - | sha256sum`);
    expect(piped.stdout.toString().split(' ')[0]).to.equal(sha(path.join(dir, 'big.bin')));
  });

  it('sbx decode and sort onto /dev/null: exit 0 (a special file is not synced, nothing failed)', () => {
    for (const cmd of ['decode', 'sort']) {
      const r = blkfs(['sbx', cmd, '-f', 'c.ecsbx', '/dev/null'], dir);
      expect(r.code, `${cmd}: ${r.out}`).to.equal(0);
    }
  });
});
