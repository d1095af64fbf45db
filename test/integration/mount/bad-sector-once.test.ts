// A bad sector is read from the device once, even when a reader finds it bad while the acquisition's trimming
// decides its block: the trimming marks the block's middle '/' (non-scraped) meanwhile, and the reader's '-' must
// still land, or the scraping pass reads the sector again (found by bench/mixed-stress). The medium is nbdkit's eval
// plugin: a script that fails reads of bad sectors and holds a read of a chosen sector while a gate file exists,
// so the order of events is fixed.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { blkfs, cleanup, mount, patternImage, rangesWithStatus, sleep, start, tempDir, umount } from './harness';

const SS = 512;
const SIZE = 8 << 20; // identity samples every 512 sectors (256 + 512k): none inside the blocks below
const BAD: [number, number][] = [
  [1300, 1310],
  [1500, 1510],
]; // sectors [a, b)
const READER_HELD = 1305; // the reader's read of it waits while DIR/gate-reader exists
const TRIM_HELD = 1530; // the trimming's backward read of it waits while DIR/gate-trim exists

describe('mount: a bad sector found by a reader while trimming marks its block is read once', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('bad-once')));
  after(() => cleanup(dir));

  it('the reader gets EIO, the sector stays bad, and the scraping does not read it again', async () => {
    fs.writeFileSync(path.join(dir, 'medium.img'), patternImage(SIZE));
    const script = path.join(dir, 'pread.sh');
    const hold = (sector: number, gate: string) =>
      `if [ $o -le ${sector * SS} ] && [ $((o + c)) -gt ${sector * SS} ]; then while [ -e ${path.join(dir, gate)} ]; do sleep 0.02; done; fi`;
    const bad = BAD.map(([a, b]) => `${a * SS}:${b * SS}`).join(' ');
    fs.writeFileSync(
      script,
      [
        '#!/bin/sh',
        'c=$3; o=$4', // eval passes: method, handle, count, offset
        hold(READER_HELD, 'gate-reader'),
        hold(TRIM_HELD, 'gate-trim'),
        `for b in ${bad}; do lo=\${b%:*}; hi=\${b#*:}; if [ $o -lt $hi ] && [ $((o + c)) -gt $lo ]; then echo "EIO bad sector" >&2; exit 1; fi; done`,
        `exec dd if=${dir}/medium.img iflag=skip_bytes,count_bytes skip=$o count=$c status=none`,
      ].join('\n') + '\n',
      { mode: 0o755 },
    );
    const sock = path.join(dir, 'nbd.sock');
    const logFile = path.join(dir, 'nbd.log');
    const nbd = start('nbdkit', ['-f', '-r', '-U', sock, '--filter=log', 'eval', `get_size=echo ${SIZE}`, `pread=${script} "$@"`, 'thread_model=echo parallel', `logfile=${logFile}`], { timeoutMs: 120_000 });
    for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(50);
    const mnt = path.join(dir, 'mnt');
    await mount(`nbd+unix:///?socket=${sock}`, mnt, ['--cache', path.join(dir, 'cache'), '--readahead', '0']);
    const raw = path.join(mnt, 'raw');
    const readAt = async (sector: number, count: number) => {
      const fh = await fs.promises.open(raw, 'r');
      try {
        return await fh.read(Buffer.alloc(count * SS), 0, count * SS, sector * SS);
      } finally {
        await fh.close();
      }
    };
    const mapfile = () => fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
    const untilLogged = async (sector: number) => {
      const seen = () => readNbdkitLog(logFile).reads.some((r) => r.offset === sector * SS && r.count === SS);
      for (let i = 0; i < 400 && !seen(); i++) await sleep(25);
      expect(seen(), `a read of sector ${sector} reached nbdkit`).to.equal(true);
    };

    // 1. A reader of sectors 1296.. stops at the bad sector 1300; what its failed read covered after it is '*'. (Not
    // whole pages: a read of whole pages reaching a bad sector is EIO whole, see fuse-ops.ts.)
    expect((await readAt(1296, 255)).bytesRead).to.equal(4 * SS);
    const [star] = rangesWithStatus(await mapfile(), '*');
    expect(star.offset).to.equal(1301 * SS);
    expect(star.offset + star.length, "the '*' block reaches past the second bad area").to.be.greaterThan(TRIM_HELD * SS);

    // 2. The acquisition trims that block: forward, 1301 is bad; backward from its end, held at sector 1530.
    fs.writeFileSync(path.join(dir, 'gate-trim'), '');
    const acquire = blkfs(['acquire', '-q', mnt], { timeoutMs: 60_000 });
    await untilLogged(TRIM_HELD);

    // 3. Meanwhile a reader reads sector 1305 (still '*'), held too.
    fs.writeFileSync(path.join(dir, 'gate-reader'), '');
    const reader = readAt(READER_HELD, 1).then(
      () => 'read',
      (e: NodeJS.ErrnoException) => e.code,
    );
    await untilLogged(READER_HELD);

    // 4. The trimming goes on, finds 1509 bad and marks 1302..1508 '/', the reader's sector among them.
    fs.rmSync(path.join(dir, 'gate-trim'));
    let map = '';
    const covered = () => rangesWithStatus(map, '/').some((r) => r.offset <= READER_HELD * SS && r.offset + r.length > READER_HELD * SS);
    for (let i = 0; i < 400 && !covered(); i++) {
      map = await mapfile();
      if (!covered()) await sleep(25);
    }
    expect(covered(), `sector ${READER_HELD} marked non-scraped while its read was held:\n${map}`).to.equal(true);

    // 5. The reader's read fails; the acquisition scrapes the rest and ends.
    fs.rmSync(path.join(dir, 'gate-reader'));
    expect(await reader).to.equal('EIO');
    const done = await acquire;
    expect(done.code, done.stderr).to.equal(0);
    map = await mapfile();
    await umount(mnt);
    nbd.child.kill('SIGTERM');
    await nbd.result;

    expect(rangesWithStatus(map, '-')).to.deep.equal(BAD.map(([a, b]) => ({ offset: a * SS, length: (b - a) * SS })));
    const alone = readNbdkitLog(logFile).reads.filter((r) => r.offset === READER_HELD * SS && r.count === SS);
    expect(alone.length, `device reads of sector ${READER_HELD} alone`).to.equal(1);
  });
});
