// `blkfs archive` and /checksums on a real mount: real kernel FUSE, real nbdkit (delay filter for a slow medium,
// ddrescue filter for bad sectors, log filter to count device reads), a real S3 protocol server (s3rver) on
// loopback behind a counting proxy, and a local directory. Bags are checked with sha256sum -c and decoded with
// `blkfs sbx decode`.
import { expect } from 'chai';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { crc32 } from 'zlib';
import { BadRange, blkfs, cleanup, mapBlocks, mount, run, start, startNbdkit, tempDir, writeMedium, sleep } from '../mount/harness';
import { expectEachSectorReadOnce, readNbdkitLog } from '../../helpers/nbdkit-log';
import { withZeros } from '../../helpers/truth-mapfile';
import { CountingProxy, downloadPrefix, S3_ENV, startS3 } from '../../helpers/s3-store';

const MiB = 1 << 20;
const SIZE = 16 * MiB;
const ENV = { ...process.env, ...S3_ENV };

const hex = (alg: string, b: Buffer) => createHash(alg).update(b).digest('hex');

/** A bag as RFC 8493 wants it, its manifests checked by sha256sum -c itself. */
async function expectValidBag(dir: string): Promise<void> {
  expect(fs.readFileSync(path.join(dir, 'bagit.txt'), 'utf8')).to.equal('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
  for (const m of ['manifest-sha256.txt', 'tagmanifest-sha256.txt']) {
    const r = await run('/bin/sh', ['-c', `cd "$0" && sha256sum --strict -c "$1"`, dir, m]);
    expect(r.code, `${m}: ${r.stdout}${r.stderr}`).to.equal(0);
  }
  const listed = (m: string) =>
    fs.readFileSync(path.join(dir, m), 'utf8').trim().split('\n').map((l) => l.split(/\s+/)[1]).sort();
  const payload = fs.readdirSync(path.join(dir, 'data')).map((f) => `data/${f}`).sort();
  expect(listed('manifest-sha256.txt')).to.deep.equal(payload);
  expect(payload).to.deep.equal(['data/checksums', 'data/image.map', 'data/image.sbx', 'data/status.json']);
  expect(listed('tagmanifest-sha256.txt')).to.deep.equal(['bag-info.txt', 'bagit.txt', 'manifest-sha256.txt']);
  const oxum = /^Payload-Oxum: (\d+)\.(\d+)$/m.exec(fs.readFileSync(path.join(dir, 'bag-info.txt'), 'utf8'));
  const bytes = payload.reduce((n, p) => n + fs.statSync(path.join(dir, p)).size, 0);
  expect(oxum?.slice(1)).to.deep.equal([String(bytes), String(payload.length)]);
}

/** The bag's image.sbx decodes to the exported image, with zeros exactly where its image.map says '-'. */
async function expectDecodesToExport(bag: string, exported: Buffer, work: string): Promise<void> {
  const out = path.join(work, `decoded-${randomBytes(3).toString('hex')}.img`);
  const r = await blkfs(['sbx', 'decode', '--pv', '0', path.join(bag, 'data/image.sbx'), out]);
  expect(r.code, r.stderr).to.equal(0);
  const decoded = fs.readFileSync(out);
  expect(decoded.equals(exported)).to.equal(true);
  const bad = mapBlocks(fs.readFileSync(path.join(bag, 'data/image.map'), 'utf8')).filter((b) => b.status === '-');
  expect(bad).to.not.be.empty;
  for (const b of bad) expect(decoded.subarray(b.pos, b.pos + b.size).every((x) => x === 0)).to.equal(true);
  fs.rmSync(out);
}

async function exportImage(mnt: string, work: string): Promise<Buffer> {
  const img = path.join(work, `export-${randomBytes(3).toString('hex')}.img`);
  const r = await blkfs(['export', mnt, img, `${img}.map`]);
  expect(r.code, r.stderr).to.equal(0);
  return fs.readFileSync(img);
}

function stateFiles(cacheDir: string): { uploadId?: string; parts: Record<string, unknown> }[] {
  const dir = path.join(cacheDir, 'archive');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => {
      try {
        return (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { resume: { uploadId?: string; parts: Record<string, unknown> } }).resume;
      } catch {
        return { parts: {} };
      }
    });
}

describe('blkfs archive and /checksums on a real mount', function () {
  this.timeout(240_000);
  let dir: string;
  let s3: { port: number; stop: () => Promise<void> };
  let proxy: CountingProxy;
  const image = randomBytes(SIZE);
  const bad: BadRange[] = [
    { offset: 3 * MiB, length: 4096 },
    { offset: 11 * MiB + 512, length: 1024 },
  ];
  const truth = withZeros(image, bad);
  let mntA: string;
  let nbdA: { logFile: string };

  before(async () => {
    dir = tempDir('archive');
    s3 = await startS3(path.join(dir, 's3'));
    proxy = new CountingProxy(s3.port);
    await proxy.start();
    // A DAT with a decoy of the same size and the medium's own entry (hashes of the image with zeros where bad).
    const dat = `<?xml version="1.0"?>
<datafile><header><name>Generated</name></header>
<game name="Decoy"><rom name="decoy.iso" size="${SIZE}" crc="00000000" sha1="${hex('sha1', image)}"/></game>
<game name="Our Disc (World)"><rom name="Our Disc (World).iso" size="${SIZE}" crc="${(crc32(truth) >>> 0).toString(16).padStart(8, '0')}" md5="${hex('md5', truth)}" sha1="${hex('sha1', truth)}"/></game>
</datafile>`;
    fs.writeFileSync(path.join(dir, 'test.dat'), dat);
    const a = path.join(dir, 'a');
    fs.mkdirSync(a);
    const m = writeMedium(a, image, bad);
    nbdA = await startNbdkit(a, m.imagePath, m.mapPath, { rdelay: '20ms', tag: 'a' });
    mntA = path.join(dir, 'mnt-a');
    await mount((nbdA as { uri: string } & typeof nbdA).uri, mntA, ['--cache', path.join(dir, 'cache-a'), '--dat', path.join(dir, 'test.dat')]);
  });

  after(async () => {
    await cleanup();
    await proxy?.stop();
    await Promise.race([s3?.stop(), sleep(5000)]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a bag made while a slow medium is read is complete and valid, in a directory and in S3', async () => {
    const dest = path.join(dir, 'bags');
    fs.mkdirSync(dest);
    let readsAtFirstPart = -1;
    proxy.onRequest = (r) => {
      if (readsAtFirstPart < 0 && r.method === 'PUT' && r.url.includes('partNumber=')) readsAtFirstPart = readNbdkitLog(nbdA.logFile).reads.length;
    };
    const r = await blkfs(['archive', '-q', mntA, dest, 's3://bags/disks', '--endpoint', proxy.url, '--part-size', '5M', '--meta', 'project=blkfs-test'], { env: ENV });
    expect(r.code, r.stderr).to.equal(0);
    const [dirBag, s3Bag] = r.stdout.trim().split('\n');
    expect(s3Bag).to.match(/^s3:\/\/bags\/disks\/medium-[0-9A-F]{12}$/);

    // The upload began before the reading ended, and the medium was read once.
    const reads = readNbdkitLog(nbdA.logFile).reads.length;
    expect(readsAtFirstPart).to.be.greaterThan(0);
    expect(readsAtFirstPart).to.be.lessThan(reads);
    expectEachSectorReadOnce(nbdA.logFile);

    await expectValidBag(dirBag);
    const fromS3 = path.join(dir, 's3-copy');
    await downloadPrefix(`http://127.0.0.1:${s3.port}`, 'bags', s3Bag.slice('s3://bags/'.length), fromS3);
    await expectValidBag(fromS3);
    expect(fs.readFileSync(path.join(fromS3, 'manifest-sha256.txt'), 'utf8')).to.equal(fs.readFileSync(path.join(dirBag, 'manifest-sha256.txt'), 'utf8'));
    expect(fs.readFileSync(path.join(dirBag, 'bag-info.txt'), 'utf8')).to.match(/^project: blkfs-test$/m).and.match(/^Blkfs-Bytes-Bad: 5120$/m);

    const exported = await exportImage(mntA, dir);
    expect(exported.equals(truth)).to.equal(true);
    await expectDecodesToExport(dirBag, exported, dir);
    // A second archive of the same medium to the same place is refused, not overwritten.
    const again = await blkfs(['archive', '-q', mntA, dest], { env: ENV });
    expect(again.code).to.equal(1);
    expect(again.stderr).to.match(/a bag is already there; not overwriting it/);
  });

  it('/checksums equals md5sum, sha1sum, sha256sum and CRC-32 of the exported image, and names the DAT entry', async () => {
    const exported = await exportImage(mntA, dir);
    const img = path.join(dir, 'medium.img');
    fs.writeFileSync(img, exported);
    const text = await fs.promises.readFile(path.join(mntA, 'checksums'), 'utf8');
    for (const tool of ['md5sum', 'sha1sum', 'sha256sum']) {
      const r = await run('/bin/sh', ['-c', `cd "$0" && ${tool} medium.img`, dir]);
      const digest = r.stdout.split(' ')[0];
      expect(text).to.include(` (medium.img) = ${digest}\n`);
      const check = await run('/bin/sh', ['-c', `cd "$0" && printf '%s' "$1" > sums && ${tool} -c sums`, dir, text]);
      expect(check.stdout).to.equal('medium.img: OK\n');
    }
    expect(text).to.include(`# CRC32 (medium.img) = ${(crc32(exported) >>> 0).toString(16).padStart(8, '0')}\n`);
    expect(text).to.include('# complete: 5120 bytes unreadable');
    expect(text).to.include('# DAT: matches "Our Disc (World)" (Our Disc (World).iso) in Generated');
    const st = JSON.parse(await fs.promises.readFile(path.join(mntA, 'status'), 'utf8'));
    expect(st.checksums.dat).to.include({ match: true, game: 'Our Disc (World)' });
    // blkfs status --dat judges the same checksums against a DAT it is given, in words and in JSON.
    const said = await blkfs(['status', '--dat', path.join(dir, 'test.dat'), mntA]);
    expect(said.code, said.stderr).to.equal(0);
    expect(said.stdout).to.match(/^DAT: +matches "Our Disc \(World\)" \(Our Disc \(World\)\.iso\) in Generated$/m);
    expect(said.stdout).to.include(`SHA-1 ${hex('sha1', exported)}`);
    const json = JSON.parse((await blkfs(['status', '--json', '--dat', path.join(dir, 'test.dat'), mntA])).stdout);
    expect(json.checksums.dat).to.include({ match: true, game: 'Our Disc (World)' });
  });

  it('the DAT verdict says "no match" for a changed image', async () => {
    const c = path.join(dir, 'c');
    fs.mkdirSync(c);
    const changed = Buffer.from(image);
    changed[5 * MiB] ^= 1;
    const m = writeMedium(c, changed, bad);
    const nbd = await startNbdkit(c, m.imagePath, m.mapPath, { tag: 'c' });
    const mnt = path.join(dir, 'mnt-c');
    fs.writeFileSync(path.join(dir, 'bad.dat'), '<html>not a DAT</html>');
    fs.mkdirSync(mnt);
    const refused = await blkfs(['mount', nbd.uri, mnt, '--cache', path.join(dir, 'cache-c'), '--dat', path.join(dir, 'bad.dat')]);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.include('bad.dat: not a Logiqx XML DAT');
    await mount(nbd.uri, mnt, ['--cache', path.join(dir, 'cache-c'), '--dat', path.join(dir, 'test.dat')]);
    const before = await fs.promises.readFile(path.join(mnt, 'checksums'), 'utf8');
    expect(before).to.match(/# incomplete: \d+ bytes missing/);
    expect((await blkfs(['acquire', '-q', mnt])).code).to.equal(0);
    let text = '';
    for (let i = 0; i < 100 && !text.includes('# DAT:'); i++) {
      await sleep(100);
      text = await fs.promises.readFile(path.join(mnt, 'checksums'), 'utf8');
    }
    expect(text).to.include('# DAT: no match among the 2 entries of Generated');
    expect((await blkfs(['status', '--dat', path.join(dir, 'test.dat'), mnt])).stdout).to.match(/^DAT: +no match among the 2 entries of Generated$/m);
  });

  it('an archive killed midway resumes without re-reading the medium or re-sending stored parts', async () => {
    const b = path.join(dir, 'b');
    fs.mkdirSync(b);
    // The copying pass reads 4 MiB at a time, several at once: a slow answer per read (and no bad sectors, whose
    // cluster-by-cluster reading the delay would make very slow) leaves the archive time to store parts mid-read.
    const imageB = randomBytes(32 * MiB);
    const m = writeMedium(b, imageB, []);
    const nbd = await startNbdkit(b, m.imagePath, m.mapPath, { rdelay: '700ms', tag: 'b' });
    const mnt = path.join(dir, 'mnt-b');
    const cacheDir = path.join(dir, 'cache-b');
    await mount(nbd.uri, mnt, ['--cache', cacheDir]);
    const dest = path.join(dir, 'bags-b');
    fs.mkdirSync(dest);
    const args = ['archive', '-q', mnt, dest, 's3://bags/resume', '--endpoint', proxy.url, '--part-size', '5M'];
    const first = start(process.execPath, [path.resolve(__dirname, '../../../src/cli/main.js'), ...args], { env: ENV });
    let stored: string[] = [];
    for (let i = 0; i < 600 && stored.length === 0; i++) {
      await sleep(50);
      const s3State = stateFiles(cacheDir).find((s) => s.uploadId);
      stored = Object.keys(s3State?.parts ?? {});
    }
    expect(stored, 'a part was stored before the kill').to.not.be.empty;
    // The running archive shows in /status: medium bytes read, container bytes archived, rate, ETA.
    const running = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8')).archives;
    expect(running).to.have.length(1);
    expect(running[0].destinations).to.have.length(2);
    expect(running[0].bytesRead).to.be.greaterThan(0);
    expect(running[0].mediumBytes).to.equal(imageB.length);
    expect(running[0]).to.have.keys('destinations', 'phase', 'bytesRead', 'mediumBytes', 'bytesArchived', 'containerBytes', 'rateBytesPerSec', 'etaSeconds');
    first.child.kill('SIGKILL');
    await first.result;
    const status = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8'));
    expect(status.bytesUntried, 'killed while the medium was still being read').to.be.greaterThan(0);
    for (let i = 0; i < 50 && status.archives.length > 0; i++) {
      await sleep(100);
      status.archives = JSON.parse(await fs.promises.readFile(path.join(mnt, 'status'), 'utf8')).archives;
    }
    expect(status.archives, 'a killed archive leaves /status').to.deep.equal([]);
    const recorded = Object.keys(stateFiles(cacheDir).find((s) => s.uploadId)!.parts).map(Number);
    const mark = proxy.requests.length;

    const r = await blkfs(args, { env: ENV });
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/resuming: [1-9]\d* of \d+ parts already stored/);
    const resent = proxy.partsSent(mark).filter((n) => recorded.includes(n));
    expect(resent, 'parts stored before the kill sent again').to.deep.equal([]);
    expectEachSectorReadOnce(nbd.logFile);
    const [dirBag, s3Bag] = r.stdout.trim().split('\n');
    await expectValidBag(dirBag);
    const fromS3 = path.join(dir, 's3-resumed');
    await downloadPrefix(`http://127.0.0.1:${s3.port}`, 'bags', s3Bag.slice('s3://bags/'.length), fromS3);
    await expectValidBag(fromS3);
    const decoded = path.join(dir, 'decoded-b.img');
    expect((await blkfs(['sbx', 'decode', '--pv', '0', path.join(fromS3, 'data/image.sbx'), decoded])).code).to.equal(0);
    expect(fs.readFileSync(decoded).equals(imageB)).to.equal(true);
  });

  it('a store that goes away gives a clear error (exit 2) and loses nothing: the next run finishes', async () => {
    let cut = false;
    proxy.onResponse = (r) => {
      if (!cut && r.method === 'PUT' && r.url.includes('partNumber=') && r.status === 200) {
        cut = true;
        setTimeout(() => void proxy.stop(), 20); // once a part is stored: the store is stopped midway
      }
    };
    const args = ['archive', '-q', mntA, 's3://bags/failing', '--endpoint', proxy.url, '--part-size', '5M'];
    const port = proxy.port;
    const r = await blkfs(args, { env: ENV });
    expect(r.code, r.stderr).to.equal(2);
    // Which request meets the stopped store depends on timing (parts go several at a time): a part, the look for a bag
    // finished meanwhile, the completion, a tag file.
    expect(r.stderr, r.stderr).to.match(/^blkfs: s3:\/\/bags\/failing\/medium-[0-9A-F]{12}: (starting|storing|looking|completing) \S.* failed after 4 attempts: /m);
    proxy.onResponse = () => {};
    await proxy.start(port);
    const again = await blkfs(args, { env: ENV });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr, `first run: ${r.stderr}`).to.match(/resuming: [1-9]\d* of 4 parts already stored/);
    const fromS3 = path.join(dir, 's3-failing');
    await downloadPrefix(`http://127.0.0.1:${s3.port}`, 'bags', again.stdout.trim().slice('s3://bags/'.length), fromS3);
    await expectValidBag(fromS3);
  });
});
