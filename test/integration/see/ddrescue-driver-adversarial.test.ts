// GNU ddrescue driving /mapfile in the ways that went wrong: a map whose '+' ends inside a sector (an unaligned
// -i/-s, a save cut short), and two ddrescues on one mount writing different images. Real FUSE, nbdkit, ddrescue.
// The rule checked: the image ddrescue makes never holds zeros under a map calling them rescued.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog } from '../../helpers/nbdkit-log';
import { BadRange, blkfs, cleanup, mount, patternImage, run, sleep, start, startNbdkit, tempDir, writeMedium } from '../mount/harness';
import { parseMapfile } from '../../../src/cache/mapfile';

const SIZE = 4 << 20;

/** Bytes [from, to) of `file` (a missing or short file reads as zeros, as ddrescue's sparse image would). */
function slice(file: string, from: number, to: number): Buffer {
  const out = Buffer.alloc(to - from);
  if (fs.existsSync(file)) {
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, out, 0, out.length, from);
    } finally {
      fs.closeSync(fd);
    }
  }
  return out;
}

describe('ddrescue through /mapfile, adversarial', function () {
  this.timeout(120_000);
  let dir: string;
  let image: Buffer;
  let uri: string;
  let nbdLog: string;
  let n = 0;

  before(async () => {
    dir = tempDir('ddrescue-adversarial');
    image = patternImage(SIZE);
    const { imagePath, mapPath } = writeMedium(dir, image, []);
    ({ uri, logFile: nbdLog } = await startNbdkit(dir, imagePath, mapPath));
  });
  after(() => cleanup(dir));

  async function freshMount(): Promise<{ mnt: string; raw: string; mf: string; cacheDir: string }> {
    const tag = `m${n++}`;
    const mnt = path.join(dir, tag);
    const cacheDir = path.join(dir, `cache-${tag}`);
    await mount(uri, mnt, ['--cache', cacheDir]);
    return { mnt, raw: path.join(mnt, 'raw'), mf: path.join(mnt, 'mapfile'), cacheDir };
  }

  it("a save cut after a '+' that ends inside a sector (unaligned -i/-s), resumed: the image equals the medium, no zeros under '+'", async () => {
    const m = await freshMount();
    const img = path.join(dir, 'unaligned.img');
    const [from, count] = [1000, 100_000];
    const first = await run('ddrescue', ['-d', '-b512', '-i', String(from), '-s', String(count), m.raw, img, m.mf]);
    expect(first.code, first.stderr + first.stdout).to.equal(0);
    // ddrescue killed mid-save: what reached /mapfile ends with its '+' line (the sector after it is only partly in the image).
    const saved = await fs.promises.readFile(path.join(m.cacheDir, 'ddrescue.map'), 'latin1'); // ddrescue's own text
    const plusLine = saved.split('\n').find((l) => /^0x0*3E8\s+0x0*186A0\s+\+/.test(l));
    expect(plusLine, saved).to.be.a('string');
    await fs.promises.writeFile(m.mf, saved.slice(0, saved.indexOf(plusLine!) + plusLine!.length + 1));

    const second = await run('ddrescue', ['-d', '-b512', '-i', String(from), m.raw, img, m.mf]);
    expect(second.code, second.stderr + second.stdout).to.equal(0);
    const final = parseMapfile(await fs.promises.readFile(m.mf, 'latin1'));
    for (const b of final.blocks.filter((x) => x.status === '+' && x.pos + x.size > from)) {
      const lo = Math.max(b.pos, from);
      expect(slice(img, lo, b.pos + b.size).equals(image.subarray(lo, b.pos + b.size)), `'+' at ${b.pos}+${b.size}`).to.equal(true);
    }
  });

  it("a ddrescue on an image that does not exist yet starts empty, though the map kept is of another image (exported elsewhere, or written by hand)", async () => {
    const m = await freshMount();
    expect((await blkfs(['acquire', '-q', m.mnt])).code).to.equal(0);
    expect((await blkfs(['export', m.mnt, path.join(dir, 'exported.img')])).code).to.equal(0);
    // The export's map says its image holds everything; ddrescue is then started on another, new image.
    const other = path.join(dir, 'other.img');
    const r = await run('ddrescue', ['-d', '-b512', m.raw, other, m.mf]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(slice(other, 0, SIZE).equals(image), 'the new image is the medium').to.equal(true);
    // A map written by hand (no ddrescue at work: its image unknown), then ddrescue on a new image: the same.
    await fs.promises.writeFile(m.mf, `0x0 + 1\n0x0 0x${SIZE.toString(16)} +\n`);
    const third = path.join(dir, 'third.img');
    const t = await run('ddrescue', ['-d', '-b512', m.raw, third, m.mf]);
    expect(t.code, t.stderr + t.stdout).to.equal(0);
    expect(slice(third, 0, SIZE).equals(image), 'the third image is the medium').to.equal(true);
  });

  it("a map of a larger medium (its '+' past this one's end) is refused with EINVAL at close, ddrescue's message in the mount log; the map is unchanged", async () => {
    const m = await freshMount();
    const before = await fs.promises.readFile(m.mf, 'latin1');
    const err = await fs.promises.writeFile(m.mf, `0x0 + 1\n0x0 0x${(2 * SIZE).toString(16)} +\n`).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException | undefined)?.code).to.equal('EINVAL');
    expect(await fs.promises.readFile(m.mf, 'latin1')).to.equal(before);
    const mountLog = fs.readFileSync(path.join(m.cacheDir, 'mount.log'), 'utf8');
    expect(mountLog).to.include('mapfile write refused: Error in mapfile, line 2: Rescued data in mapfile goes past end of input file');
    // A map of a smaller medium is accepted, as ddrescue accepts it (the rest is non-tried): this write does not throw.
    await fs.promises.writeFile(m.mf, `0x0 ? 1\n0x0 0x${(SIZE / 2).toString(16)} ?\n`);
  });

  it("a second ddrescue on the same mount, on another image, while the first runs: it copies what the first rescued, no zeros under '+'", async () => {
    const m = await freshMount();
    const readsBefore = readNbdkitLog(nbdLog).reads.length; // the nbdkit is shared with other tests' mounts (other caches)
    const aImg = path.join(dir, 'A.img');
    const bImg = path.join(dir, 'B.img');
    // A: slow, saving its map every second.
    const a = start('ddrescue', ['-d', '-b512', '--max-read-rate=500k', '--mapfile-interval=1', m.raw, aImg, m.mf]);
    try {
      const logFile = path.join(m.cacheDir, 'mount.log');
      const until = Date.now() + 30_000;
      while (!/mapfile written by ddrescue/.test(fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '')) {
        expect(Date.now(), 'A saved its map').to.be.below(until);
        await sleep(100);
      }
      const claimedByA = parseMapfile(fs.readFileSync(path.join(m.cacheDir, 'ddrescue.map'), 'latin1')).blocks.find((b) => b.status === '+');
      expect(claimedByA, 'A rescued something').to.not.equal(undefined);
      // B: only the first 64 KiB, which A has rescued into its own image; B's image holds nothing yet.
      const b = await run('ddrescue', ['-d', '-b512', '-s', String(64 << 10), m.raw, bImg, m.mf]);
      expect(b.code, b.stderr + b.stdout).to.equal(0);
      expect(slice(bImg, 0, 64 << 10).equals(image.subarray(0, 64 << 10)), "B's image holds the medium's first 64 KiB").to.equal(true);
    } finally {
      a.child.kill('SIGINT');
      await a.result;
    }
    const ours = readNbdkitLog(nbdLog).reads.slice(readsBefore).filter((r) => r.outcome === 'ok').map((r) => ({ offset: r.offset, length: r.count }));
    expect(overlaps(ours), 'no sector read from the device twice').to.deep.equal([]);
    const mountLog = fs.readFileSync(path.join(m.cacheDir, 'mount.log'), 'utf8');
    expect(mountLog).to.include('ddrescue opened it while ddrescues writing different images share it');
  });
});

// Preloaded into ddrescue (its fprintf is __fprintf_chk): SIGKILL once a save has passed KILL_AFTER_BYTES bytes to
// /mapfile through stdio. What reached the mount is its full 4 KiB buffers before that point: a save cut mid-line,
// as a kill lands.
const KILL_MID_SAVE_C = `#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static long total;
int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vfprintf(f, fmt, ap);
  va_end(ap);
  char p[64], t[4096];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fileno(f));
  ssize_t l = readlink(p, t, sizeof t - 1);
  const char *limit = getenv("KILL_AFTER_BYTES");
  if (limit && r > 0 && l >= 8 && (t[l] = 0, strcmp(t + l - 8, "/mapfile") == 0) && (total += r) > atol(limit)) raise(SIGKILL);
  return r;
}
`;

describe('ddrescue SIGKILLed in the middle of writing /mapfile, resumed', function () {
  this.timeout(120_000);
  const size = 1 << 20;
  // Many scattered bad sectors: ddrescue's map is tens of KiB, saved in several 4 KiB writes.
  const bad: BadRange[] = Array.from({ length: 300 }, (_, i) => ({ offset: 1024 + i * 3072, length: 512 }));
  let dir: string;
  let shim: string;

  before(function () {
    dir = tempDir('ddrescue-killed-mid-save');
    shim = path.join(dir, 'kill-mid-save.so');
    fs.writeFileSync(path.join(dir, 'kill-mid-save.c'), KILL_MID_SAVE_C);
    const cc = spawnSync('gcc', ['-shared', '-fPIC', '-O2', '-o', shim, path.join(dir, 'kill-mid-save.c')], { encoding: 'utf8' });
    if (cc.error || cc.status !== 0) this.skip(); // no C compiler here
  });
  after(() => cleanup(dir));

  it("each cut (4, 8 and 12 KiB into a save of about 15 KiB) is refused or taken as cut; the resumed image equals the medium at every '+', no good sector read twice", async () => {
    const image = patternImage(size);
    const { imagePath, mapPath } = writeMedium(dir, image, bad);
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    const mnt = path.join(dir, 'mnt');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache')]);
    const [raw, mf] = [path.join(mnt, 'raw'), path.join(mnt, 'mapfile')];
    const img = path.join(dir, 'disk.img');
    for (const cut of [4097, 8193, 12289]) {
      const killed = await run('ddrescue', ['-d', '-b512', raw, img, mf], { env: { ...process.env, LD_PRELOAD: shim, KILL_AFTER_BYTES: String(cut) } });
      expect(killed.code, `killed ${cut} bytes into a save`).to.equal(null);
    }
    const r = await run('ddrescue', ['-d', '-b512', raw, img, mf]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    const final = parseMapfile(await fs.promises.readFile(mf, 'latin1'));
    expect(final.blocks.filter((b) => b.status === '-').reduce((n, b) => n + b.size, 0)).to.equal(bad.length * 512);
    for (const b of final.blocks.filter((x) => x.status === '+')) {
      expect(slice(img, b.pos, b.pos + b.size).equals(image.subarray(b.pos, b.pos + b.size)), `'+' at ${b.pos}+${b.size}`).to.equal(true);
    }
    const good = readNbdkitLog(nbd.logFile).reads.filter((x) => x.outcome === 'ok').map((x) => ({ offset: x.offset, length: x.count }));
    expect(overlaps(good), 'no good sector read twice').to.deep.equal([]);
    const mountLog = fs.readFileSync(path.join(dir, 'cache', 'mount.log'), 'utf8');
    expect(mountLog, 'at least one cut save was refused').to.match(/mapfile write refused: Error in mapfile, line \d+/);
  });
});
