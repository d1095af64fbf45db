// Reading makes progress, and says so (real FUSE, nbdkit with a bad range and slow reads):
// /rescued/<UID>/<file> reads the medium where unseen blocks must lie; the acquisition that /sbx/image.sbx
// starts shows rate and ETA; tar sees the true sizes of generated files.
import { expect } from 'chai';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { httpGet } from '../../helpers/http-get';
import { overlaps, readNbdkitLog } from '../../helpers/nbdkit-log';
import { BadRange, blkfs, cleanup, mount, readStatus, run, sleep, start, startNbdkit, tempDir, writeMedium } from '../mount/harness';

const MiB = 1 << 20;
const SIZE = 4 * MiB;
const AT = MiB; // the container's place on the medium
const BAD: BadRange[] = [{ offset: 3 * MiB, length: 1024 }];

async function get(url: string): Promise<Buffer> {
  const r = await httpGet(url);
  if (r.code !== 200) throw new Error(`${url}: ${r.code}`);
  return r.body;
}

type Status = { sbx: { image: { phase: string; rateBytesPerSec?: number; etaSeconds?: number | null } | null } };

describe('reading makes progress, and says so', function () {
  this.timeout(120_000);
  let dir: string;
  let mnt: string;
  let cacheDir: string;
  let nbdLog: string;
  const file = randomBytes(300_000);
  let uid: string;

  before(async () => {
    dir = tempDir('progress');
    fs.writeFileSync(path.join(dir, 'a.bin'), file);
    const enc = await blkfs(['sbx', 'encode', '--pv', '0', '--sbx-version', '1', path.join(dir, 'a.bin'), path.join(dir, 'a.sbx')]);
    expect(enc.code, enc.stderr).to.equal(0);
    const image = randomBytes(SIZE);
    fs.readFileSync(path.join(dir, 'a.sbx')).copy(image, AT);
    const { imagePath, mapPath } = writeMedium(dir, image, BAD);
    const nbd = await startNbdkit(dir, imagePath, mapPath, { rdelay: '40ms' });
    nbdLog = nbd.logFile;
    mnt = path.join(dir, 'mnt');
    cacheDir = path.join(dir, 'cache');
    await mount(nbd.uri, mnt, ['--cache', cacheDir, '--http', '127.0.0.1:0', '--slow-read', '20']);
  });

  after(() => cleanup(dir));

  it('a file in /rescued/ whose blocks were never seen is read from where they must lie, each byte once', async () => {
    // Only the container's first 4 KiB (metadata and seqs 1-7) were ever read.
    const fh = await fs.promises.open(path.join(mnt, 'raw'), 'r');
    await fh.read(Buffer.alloc(4096), 0, 4096, AT);
    await fh.close();
    let uids: string[] = [];
    for (let i = 0; i < 50 && uids.length === 0; i++) {
      uids = await fs.promises.readdir(path.join(mnt, 'rescued'));
      if (uids.length === 0) await sleep(100);
    }
    expect(uids).to.have.length(1);
    uid = uids[0];
    const got = await fs.promises.readFile(path.join(mnt, 'rescued', uid, 'a.bin'));
    expect(got.equals(file)).to.equal(true);
    expect(overlaps(readNbdkitLog(nbdLog).ok)).to.deep.equal([]);
  });

  it('the acquisition /sbx/image.sbx starts shows its rate and ETA in /status, blkfs status and the mount log', async () => {
    const copy = start('cp', [path.join(mnt, 'sbx', 'image.sbx'), path.join(dir, 'image.sbx')]);
    let seen: Status['sbx']['image'] = null;
    for (let i = 0; i < 100; i++) {
      const s = (await readStatus(mnt)) as unknown as Status;
      if (s.sbx.image?.phase === 'acquiring' && (s.sbx.image.rateBytesPerSec ?? 0) > 0) {
        seen = s.sbx.image;
        break;
      }
      await sleep(100);
    }
    expect(seen, 'an acquiring phase with a rate').to.not.equal(null);
    expect(seen!.etaSeconds).to.be.a('number');
    const st = await blkfs(['status', mnt]);
    expect(st.stdout).to.match(/sbx image:\s+acquiring for image\.sbx: .*\/s, ETA/);
    expect((await copy.result).code).to.equal(0);
    const log = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect(log).to.match(/sbx: acquiring for the image hash: \d+ of \d+ bytes tried \(\d+%\), \d+ bytes\/s(, ETA \d+ s)?/);
  });

  it('tar archives the generated files at their true sizes', async () => {
    const r = await run('sh', ['-c', `tar -C '${mnt}' -cf - rescued sbx/image.map | tar -tvf -`]);
    expect(r.code, r.stderr).to.equal(0);
    const sizes = new Map<string, number>();
    for (const line of r.stdout.trim().split('\n')) {
      const f = line.trim().split(/\s+/);
      sizes.set(f[f.length - 1], Number(f[2]));
    }
    for (const name of [`rescued/${uid}/info.json`, `rescued/${uid}/a.bin`, `rescued/${uid}/${uid}.sbx`, 'sbx/image.map']) {
      const content = await fs.promises.readFile(path.join(mnt, name));
      expect(content.length, name).to.be.greaterThan(0);
      expect(sizes.get(name), name).to.equal(content.length);
    }
    expect(sizes.get(`rescued/${uid}/a.bin`)).to.equal(file.length);
  });

  it('the web page lists the find and hands out its files, image.sbx and image.map', async () => {
    const url = ((await readStatus(mnt)).server as unknown as { http: string }).http;
    const finds = JSON.parse((await get(url + 'rescued.json')).toString()) as { uid: string; files: { name: string; size: number }[] }[];
    expect(finds.map((f) => f.uid)).to.deep.equal([uid]);
    expect(finds[0].files.find((f) => f.name === 'a.bin')?.size).to.equal(file.length);
    expect((await get(`${url}rescued/${uid}/a.bin`)).equals(file)).to.equal(true);
    expect((await get(url + 'sbx/image.map')).equals(await fs.promises.readFile(path.join(mnt, 'sbx', 'image.map')))).to.equal(true);
    expect((await get(url + 'sbx/image.sbx')).equals(await fs.promises.readFile(path.join(dir, 'image.sbx')))).to.equal(true);
  });

  it('slow device reads are in the mount log with offset, length and duration', async () => {
    const log = await fs.promises.readFile(path.join(cacheDir, 'mount.log'), 'utf8');
    expect(log).to.match(/WARN: slow read: offset \d+ length \d+ took \d+ ms/);
  });
});
