// /sbx/ and /rescued/ on a real mount: real kernel FUSE, real nbdkit (ddrescue filter for exact bad
// ranges, log filter to count device reads), the real `blkfs` binary for mount, acquire, export and the
// sbx toolkit. The mount runs as its own process, as users run it.
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Layout } from '../../../src/sbx/format/layout';
import { parseMetadataPayload } from '../../../src/sbx/format/metadata';
import { uidToHex } from '../../../src/sbx/format/header';
import { BadRange, blkfs, cleanup, mapBlocks, MAIN_JS, mount, run, startNbdkit, tempDir, umount, writeMedium } from '../mount/harness';
import { expectEachSectorReadOnce, readNbdkitLog } from '../../helpers/nbdkit-log';
import { withZeros } from '../../helpers/truth-mapfile';

const MiB = 1 << 20;
const SIZE = 16 * MiB;
const PIN_CLOCK = path.join(__dirname, 'pin-clock.js');

async function ok(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = opts.cwd
    ? await run('/bin/sh', ['-c', `cd "$0" && exec "$@"`, opts.cwd, process.execPath, MAIN_JS, ...args], { env: opts.env })
    : await blkfs(args, { env: opts.env });
  if (r.code !== 0) throw new Error(`blkfs ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

describe('archive views on a real mount (/sbx/, /rescued/)', function () {
  this.timeout(180_000);
  let dir: string;
  let image: Buffer;
  const files: Record<'a' | 'b', Buffer> = { a: randomBytes(150_000), b: randomBytes(400_000) };
  const containers: Partial<Record<'a' | 'b', Buffer>> = {};
  // v1 container of a.bin twice (a copy A at 1 MiB + 384, 128- but not 512-aligned; a copy B at 10 MiB),
  // the default v17 container (10/2, burst 12) of b.bin at 4 MiB.
  const A = MiB + 384;
  const B = 10 * MiB;
  const V17 = 4 * MiB;
  const bad: BadRange[] = [
    { offset: MiB, length: 1024 }, // copy A: its metadata block and data seq 1
    { offset: A - 384 + 100 * 512, length: 2048 }, // copy A: a few data blocks
    { offset: B + 200 * 512, length: 4096 }, // copy B: seqs 200..207
    { offset: V17 + 20 * 512, length: 12 * 512 }, // v17: one burst of B = 12 blocks in super set 0
    { offset: V17 + 90 * 512, length: 4 * 512 }, // v17: a second, shorter burst in super set 0
    { offset: V17 + 300 * 512, length: 12 * 512 }, // v17: a burst in super set 2
    { offset: 14 * MiB, length: 4096 }, // random bytes
  ];

  before(async () => {
    dir = tempDir('sbx-views');
    for (const k of ['a', 'b'] as const) fs.writeFileSync(path.join(dir, `${k}.bin`), files[k]);
    await ok(['sbx', 'encode', '--pv', '0', '--sbx-version', '1', path.join(dir, 'a.bin'), path.join(dir, 'a.sbx')]);
    await ok(['sbx', 'encode', '--pv', '0', path.join(dir, 'b.bin'), path.join(dir, 'b.ecsbx')]);
    containers.a = fs.readFileSync(path.join(dir, 'a.sbx'));
    containers.b = fs.readFileSync(path.join(dir, 'b.ecsbx'));
    image = randomBytes(SIZE);
    containers.a.copy(image, A);
    containers.a.copy(image, B);
    containers.b.copy(image, V17);
    writeMedium(dir, image, bad);
  });

  after(() => cleanup(dir));

  it('after `blkfs acquire`, /rescued/ shows both containers; the decoded files equal the originals', async () => {
    const nbd = await startNbdkit(dir, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'), { tag: 'rescue' });
    const mnt = path.join(dir, 'mnt-rescue');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-rescue')]);
    await ok(['acquire', mnt]);
    const rescued = path.join(mnt, 'rescued');
    const uidA = uidToHex(containers.a!.subarray(6, 12));
    const uidB = uidToHex(containers.b!.subarray(6, 12));
    expect((await fs.promises.readdir(rescued)).sort()).to.deep.equal([uidA, uidB].sort());

    expect((await fs.promises.readdir(path.join(rescued, uidA))).sort()).to.deep.equal([`${uidA}.sbx`, 'a.bin', 'info.json']);
    expect((await fs.promises.readFile(path.join(rescued, uidA, 'a.bin'))).equals(files.a)).to.equal(true);
    expect((await fs.promises.readFile(path.join(rescued, uidB, 'b.bin'))).equals(files.b)).to.equal(true);
    // The canonical container of the v1 file, gathered from its two damaged copies, is the original.
    expect((await fs.promises.readFile(path.join(rescued, uidA, `${uidA}.sbx`))).equals(containers.a!)).to.equal(true);

    const infoB = JSON.parse(await fs.promises.readFile(path.join(rescued, uidB, 'info.json'), 'utf8'));
    expect(infoB.hash.matches).to.equal(true);
    expect(infoB.burstErrorResistanceLevel).to.equal(12);
    expect(infoB.blocks.missing).to.be.greaterThan(0);
    expect(infoB.blocks.dataChunksRepaired).to.be.greaterThan(0);
    expect(infoB.blocks.dataChunksUnrecoverable).to.equal(0);
    const infoA = JSON.parse(await fs.promises.readFile(path.join(rescued, uidA, 'info.json'), 'utf8'));
    expect(infoA.hash.matches).to.equal(true);
    expect(infoA.blocks.missing).to.equal(0);
    expect(infoA.blocks.duplicates).to.be.greaterThan(0);

    // The damaged v17 container in canonical order: `blkfs sbx repair` makes it the original again.
    const sorted = path.join(dir, 'b-sorted.ecsbx');
    await sh('cp', [path.join(rescued, uidB, `${uidB}.sbx`), sorted]);
    expect(fs.readFileSync(sorted).equals(containers.b!)).to.equal(false);
    await ok(['sbx', 'repair', '-y', '--pv', '0', sorted]);
    expect(fs.readFileSync(sorted).equals(containers.b!)).to.equal(true);

    // <UID>.sbx is what `blkfs sbx rescue` then `sort` make of the same bytes (the cache, zeros where bad).
    // The burst level is given to sort: blkar guesses it from the rescued file, whose positions shift
    // wherever blocks were lost; the view guesses it from where the blocks sit on the medium.
    await ok(['export', mnt, path.join(dir, 'rescue-export.img'), path.join(dir, 'rescue-export.map')]);
    fs.mkdirSync(path.join(dir, 'rescue-out'));
    await ok(['sbx', 'rescue', '--pv', '0', path.join(dir, 'rescue-export.img'), path.join(dir, 'rescue-out')]);
    await ok(['sbx', 'sort', '--pv', '0', path.join(dir, 'rescue-out', uidA), path.join(dir, 'a.sorted')]);
    await ok(['sbx', 'sort', '--pv', '0', '--burst', '12', path.join(dir, 'rescue-out', uidB), path.join(dir, 'b.sorted')]);
    expect((await fs.promises.readFile(path.join(rescued, uidA, `${uidA}.sbx`))).equals(fs.readFileSync(path.join(dir, 'a.sorted')))).to.equal(true);
    expect((await fs.promises.readFile(path.join(rescued, uidB, `${uidB}.sbx`))).equals(fs.readFileSync(path.join(dir, 'b.sorted')))).to.equal(true);

    expectEachSectorReadOnce(nbd.logFile);
    await umount(mnt);
  });

  it('cp /sbx/image.sbx: decodes to the exported image (zeros at bad sectors), each sector read once; a second copy reads nothing', async () => {
    const nbd = await startNbdkit(dir, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'), { tag: 'image' });
    const mnt = path.join(dir, 'mnt-image');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-image')]);
    const copy1 = path.join(dir, 'copy1.sbx');
    // The first read (the metadata block, at offset 0) acquires the whole medium, then the copy streams.
    await sh('cp', [path.join(mnt, 'sbx', 'image.sbx'), copy1]);
    await sh('cp', [path.join(mnt, 'sbx', 'image.map'), path.join(dir, 'copy1.map')]);
    const readsAfterFirst = readNbdkitLog(nbd.logFile).reads;
    expectEachSectorReadOnce(nbd.logFile);
    const layout = new Layout({ version: 17, d: 10, p: 2, burst: 12 });
    expect(fs.statSync(copy1).size).to.equal(layout.containerSize(SIZE));

    // The map beside it marks exactly the bad ranges.
    const badInMap = mapBlocks(fs.readFileSync(path.join(dir, 'copy1.map'), 'utf8'))
      .filter((b) => b.status === '-')
      .map((b) => ({ offset: b.pos, length: b.size }));
    expect(badInMap).to.deep.equal([...bad].sort((x, y) => x.offset - y.offset));

    // blkfs sbx decode of the copy = the exported image = the medium with zeros where '-'; hash matches.
    await ok(['export', mnt, path.join(dir, 'exported.img'), path.join(dir, 'exported.map')]);
    const exported = fs.readFileSync(path.join(dir, 'exported.img'));
    expect(exported.equals(withZeros(image, bad))).to.equal(true);
    const decode = JSON.parse(await ok(['sbx', 'decode', '--json', copy1, path.join(dir, 'decoded.img')]));
    expect(decode.stats.recordedHash).to.equal(decode.stats.hashOfOutputFile);
    expect(fs.readFileSync(path.join(dir, 'decoded.img')).equals(exported)).to.equal(true);

    // Its bytes are `blkfs sbx encode` of the exported image with the same parameters, UID, names and times.
    const c1 = fs.readFileSync(copy1);
    const meta = parseMetadataPayload(c1.subarray(16, 512));
    const encDir = path.join(dir, 'encode');
    fs.mkdirSync(encDir);
    fs.copyFileSync(path.join(dir, 'exported.img'), path.join(encDir, meta.fnm!));
    fs.utimesSync(path.join(encDir, meta.fnm!), meta.fdt!, meta.fdt!);
    await ok(['sbx', 'encode', '--pv', '0', '--uid', uidToHex(c1.subarray(6, 12)), meta.fnm!, meta.snm!], {
      cwd: encDir,
      env: { ...process.env, NODE_OPTIONS: `--require ${PIN_CLOCK}`, BLKFS_TEST_NOW: String(meta.sdt) },
    });
    expect(fs.readFileSync(path.join(encDir, meta.snm!)).equals(c1)).to.equal(true);

    // A second copy is byte-identical and costs no device read.
    const copy2 = path.join(dir, 'copy2.sbx');
    await sh('cp', [path.join(mnt, 'sbx', 'image.sbx'), copy2]);
    expect(fs.readFileSync(copy2).equals(c1)).to.equal(true);
    expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(readsAfterFirst.length);

    // Damage within the RS limits (two bursts of 12 blocks in one super set, and a metadata copy): repair
    // restores the view's bytes.
    const damaged = Buffer.from(c1);
    damaged.fill(0, 0, 512);
    damaged.fill(0, 1000 * 512, 1012 * 512);
    damaged.fill(0, 1050 * 512, 1062 * 512);
    fs.writeFileSync(path.join(dir, 'damaged.sbx'), damaged);
    await ok(['sbx', 'repair', '-y', '--pv', '0', path.join(dir, 'damaged.sbx')]);
    expect(fs.readFileSync(path.join(dir, 'damaged.sbx')).equals(c1)).to.equal(true);

    // Remounted, the container is the same bytes (UID, names and times are kept with the cache).
    await umount(mnt);
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-image')]);
    const readsAfterRemount = readNbdkitLog(nbd.logFile).reads.length; // the cache's identity probe reads a few sectors
    const copy3 = path.join(dir, 'copy3.sbx');
    await sh('cp', [path.join(mnt, 'sbx', 'image.sbx'), copy3]);
    expect(fs.readFileSync(copy3).equals(c1)).to.equal(true);
    expect(readNbdkitLog(nbd.logFile).reads.length).to.equal(readsAfterRemount);
    await umount(mnt);
  });
  it('mount --scan finds the containers without `blkfs acquire`; --sbx-version 1 makes image.sbx a version 1 container', async () => {
    const nbd = await startNbdkit(dir, path.join(dir, 'medium.img'), path.join(dir, 'truth.map'), { tag: 'scan' });
    const mnt = path.join(dir, 'mnt-scan');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-scan'), '--scan', '--sbx-version', '1']);
    const until = Date.now() + 60_000;
    for (;;) {
      const st = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8'));
      if (!st.acquiring && st.bytesUntried === 0 && st.sbx.scanner.pendingBytes === 0) break;
      if (Date.now() > until) throw new Error('--scan did not finish');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await fs.promises.readdir(path.join(mnt, 'rescued'))).length).to.equal(2);
    const copy = path.join(dir, 'v1.sbx');
    await sh('cp', [path.join(mnt, 'sbx', 'image.sbx'), copy]);
    expect(fs.statSync(copy).size).to.equal(new Layout({ version: 1 }).containerSize(SIZE));
    const decode = JSON.parse(await ok(['sbx', 'decode', '--json', copy, path.join(dir, 'v1.img')]));
    expect(decode.stats.sbxVersion).to.equal(1);
    expect(decode.stats.recordedHash).to.equal(decode.stats.hashOfOutputFile);
    expect(fs.readFileSync(path.join(dir, 'v1.img')).equals(withZeros(image, bad))).to.equal(true);
    expectEachSectorReadOnce(nbd.logFile);
    await umount(mnt);
  });
});
