// blkfs acquire with ddrescue's options on the real stack (FUSE, nbdkit's ddrescue filter for the bad sectors, its
// log filter for every device read): a multi-part rescue (-N, then -n, then plain) where each run leaves exactly
// what ddrescue would and nothing is read twice; and a rescue domain (-i/-s) that reads nothing outside itself.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { overlaps, readNbdkitLog, Range } from '../../helpers/nbdkit-log';
import { fatImage, randomTree } from '../../helpers/filesystems';
import { BadRange, blkfs, cleanup, mount, patternImage, rangesWithStatus, readStatus, sleep, startNbdkit, tempDir, writeMedium } from './harness';

const MiB = 1 << 20;
const SIZE = 8 * MiB;
// Two bad sectors 8 KiB apart in one 64 KiB cluster: copying marks the cluster '*', trimming stops at both, the
// 7.5 KiB between them becomes '/', scraping reads it sector by sector.
const BAD: BadRange[] = [
  { offset: 0x300000, length: 0x200 },
  { offset: 0x302000, length: 0x200 },
];
const CLUSTER: Range = { offset: 0x300000, length: 0x10000 };
const BETWEEN: BadRange = { offset: 0x300200, length: 0x1e00 };

type Read = { offset: number; count: number };
const inside = (r: Read, area: Range) => r.offset >= area.offset && r.offset + r.count <= area.offset + area.length;
const within = (r: Read | Range, area: Range) => {
  const end = r.offset + ('count' in r ? r.count : r.length);
  return r.offset < area.offset + area.length && end > area.offset;
};

async function mapfile(mnt: string): Promise<{ text: string; phase: string }> {
  const text = await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8');
  return { text, phase: /^0x[0-9A-F]+\s+(\S)\s+\d+$/m.exec(text)![1] };
}

describe("mount: blkfs acquire with ddrescue's -n, -N, -i/-s (real FUSE, nbdkit)", function () {
  let dir: string;
  let imagePath: string;
  let mapPath: string;

  before(() => {
    dir = tempDir('acq-opts');
    // A 1 MiB FAT filesystem first: the metadata phase (tsk_loaddb reads its whole volume) stays there, away from the
    // bad sectors, so what this test sees is the passes' work.
    const image = patternImage(SIZE);
    fs.readFileSync(fatImage(dir, 'fat', randomTree({ '/a.bin': 4096 }), 1024)).copy(image);
    ({ imagePath, mapPath } = writeMedium(dir, image, BAD));
  });
  after(() => cleanup(dir));

  it("-N leaves the failed cluster '*', then -n trims it to '/', then a plain run scrapes: each run's map as ddrescue's, no byte read twice", async () => {
    const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'parts' });
    const mnt = path.join(dir, 'mnt-parts');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-parts')]);

    const noTrim = await blkfs(['acquire', '-q', '-N', mnt]);
    expect(noTrim.code, noTrim.stderr).to.equal(0);
    expect(noTrim.stderr, noTrim.stderr).to.contain("finished (-N): ").and.contain(`(${CLUSTER.length} non-trimmed ('*')): run blkfs acquire again without -N`);
    let map = await mapfile(mnt);
    expect(rangesWithStatus(map.text, '*')).to.deep.equal([CLUSTER]);
    expect(rangesWithStatus(map.text, '-')).to.deep.equal([]);
    expect(map.phase).to.equal('*'); // not '+' ("Finished")
    // no read smaller than a cluster in the bad cluster: nothing was trimmed
    expect(readNbdkitLog(nbd.logFile).reads.filter((r) => within(r, CLUSTER) && r.count < CLUSTER.length)).to.deep.equal([]);

    const noScrape = await blkfs(['acquire', '-q', '-n', mnt]);
    expect(noScrape.code, noScrape.stderr).to.equal(0);
    expect(noScrape.stderr).to.contain(`finished (-n): `).and.contain(`(${BETWEEN.length} non-scraped ('/')): run blkfs acquire again without -n`);
    map = await mapfile(mnt);
    expect(rangesWithStatus(map.text, '/')).to.deep.equal([BETWEEN]);
    expect(rangesWithStatus(map.text, '-')).to.deep.equal(BAD);
    expect(map.phase).to.equal('/');
    const status = await blkfs(['status', mnt]);
    expect(status.stdout, status.stdout).to.match(/left: .*, 7\.68 kB non-scraped\)/).and.match(/phase: +scraping non-scraped blocks/);
    // the '/' sectors were read only inside the failed cluster read, never on their own
    expect(readNbdkitLog(nbd.logFile).reads.filter((r) => inside(r, BETWEEN))).to.deep.equal([]);

    const rest = await blkfs(['acquire', '-q', mnt]);
    expect(rest.code, rest.stderr).to.equal(0);
    expect(rest.stderr).to.contain(`finished: ${SIZE - 0x400} bytes rescued, 1024 bytes in bad sectors, 0 bytes not settled`);
    map = await mapfile(mnt);
    expect(map.phase).to.equal('+');
    expect(rangesWithStatus(map.text, '-')).to.deep.equal(BAD);
    const log = readNbdkitLog(nbd.logFile);
    expect(overlaps(log.ok)).to.deep.equal([]); // no good byte read twice across the three runs
    expect(log.okBytes).to.equal(SIZE - 0x400);
    expect(log.reads.filter((r) => inside(r, BETWEEN)).length).to.equal(BETWEEN.length / 512); // scraped once each
  });

  it("-i/-s reads nothing outside the domain (which stays '?'), refuses bad domains and other options while it runs; a plain run reads the rest only", async () => {
    // 8 Mbit/s: the 4 MiB domain takes seconds, long enough for a second client to arrive
    const nbd = await startNbdkit(dir, imagePath, mapPath, { tag: 'domain', rate: '8M' });
    const mnt = path.join(dir, 'mnt-domain');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-domain')]);
    for (const [args, message] of [
      [['-i', '8Mi'], /-i\/--input-position 8388608 \(0x800000\) is outside the medium \(8388608 bytes/],
      [['-i', '1000'], /not on a sector boundary .* use 512 or 1024/],
      [['-s', '1K'], /'K' is only a multiplier as 'Ki'/],
      [['-i', '0', '-s', '1Mi', '--files', '/x'], /--files cannot be combined with -i\/-s/],
    ] as const) {
      const r = await blkfs(['acquire', ...args, mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(message);
    }
    const before = readNbdkitLog(nbd.logFile).reads.length; // the mount's identity probe
    const probed = rangesWithStatus((await mapfile(mnt)).text, '+');
    const domain: Range = { offset: 2 * MiB, length: 4 * MiB };
    const first = blkfs(['acquire', '-i', '2Mi', '-s', '0x400000', mnt]);
    while (!(await readStatus(mnt)).acquiring) await sleep(20);
    const other = await blkfs(['acquire', '-n', mnt]);
    expect(other.code, other.stderr).to.equal(1);
    expect(other.stderr).to.contain('an acquisition with other options is already running on this mount (-i 0x200000 -s 0x400000; asked: -n)');
    expect((await blkfs(['status', mnt])).stdout).to.contain('acquisition running (-i 0x200000 -s 0x400000)');
    const done = await first;
    expect(done.code, done.stderr).to.equal(0);
    expect(done.stderr).to.contain('-i/-s: the filesystem metadata is not read (it may lie outside the domain)');
    expect(done.stderr).to.contain('] 100%'); // the bar counts the domain, not the medium
    expect(done.stderr).to.match(/finished \(-i 0x200000 -s 0x400000\): .* untried \('\?'\)\): run blkfs acquire again without -i\/-s/);
    const reads = readNbdkitLog(nbd.logFile).reads.slice(before);
    expect(reads.length).to.be.greaterThan(0);
    expect(reads.filter((r) => !inside(r, domain))).to.deep.equal([]);
    const map = await mapfile(mnt);
    expect(map.phase).to.equal('?');
    expect(rangesWithStatus(map.text, '?').filter((r) => within(r, domain))).to.deep.equal([]);
    // outside the domain, all is '?' but what the mount's identity probe read
    const outside = (ranges: Range[]) => ranges.reduce((n, r) => n + r.length - Math.max(0, Math.min(r.offset + r.length, 6 * MiB) - Math.max(r.offset, 2 * MiB)), 0);
    expect(outside(rangesWithStatus(map.text, '?'))).to.equal(SIZE - domain.length - outside(probed));
    expect(rangesWithStatus(map.text, '-')).to.deep.equal(BAD);

    const rest = await blkfs(['acquire', '-q', mnt], { timeoutMs: 120_000 });
    expect(rest.code, rest.stderr).to.equal(0);
    expect(rest.stderr).to.contain('finished: ');
    const log = readNbdkitLog(nbd.logFile);
    expect(log.reads.slice(before + reads.length).filter((r) => within(r, domain))).to.deep.equal([]);
    expect(overlaps(log.ok)).to.deep.equal([]);
    expect(log.okBytes).to.equal(SIZE - 0x400);
  });
});
