// A reader's read that fails is narrowed to its first bad sector by reading the sectors one by one: on a failing
// drive that takes minutes. Each sector read so is committed as it is read (as the acquisition's trimming and
// scraping do), so a kill -9 meanwhile does not make the next mount read them all from the device again. Found by
// bench/crash-torture.sh: sectors read back 750 ms before the kill were not committed.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { cleanup, forgetServer, mount, patternImage, run, sleep, start, startNbdkit, tempDir, writeMedium } from '../mount/harness';
import { expectCacheFaithful, plusRanges } from './cache-truth';
import { spreadSampleSectors } from '../../../src/cache/medium-identity';

const SS = 512;
const SIZE = 8 * 1024 * 1024;
// The bad sector is the last of the reader's 64 KiB read, and no identity sample (cached at creation) is in it.
const SAMPLES = spreadSampleSectors(SIZE, SS);
const BAD = Array.from({ length: 1000 }, (_, i) => 2000 + i).find((s) => !SAMPLES.some((x) => x >= s - 130 && x <= s + 1))!;

describe('integrity: kill -9 while a reader\'s failed read is narrowed sector by sector', function () {
  this.timeout(60_000);
  let tmp: string;

  beforeEach(() => (tmp = tempDir('narrow-crash')));
  afterEach(async () => {
    await cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the sectors read back 200 ms or more before the kill are committed', async () => {
    const image = patternImage(SIZE);
    const { imagePath, mapPath } = writeMedium(tmp, image, [{ offset: BAD * SS, length: SS }]);
    const nbd = await startNbdkit(tmp, imagePath, mapPath, { rdelay: '60ms' });
    const mnt = path.join(tmp, 'mnt');
    const cache = path.join(tmp, 'cache');
    const pid = await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const first = (BAD - 127) * SS;
    const dd = start('dd', [`if=${path.join(mnt, 'raw')}`, 'of=/dev/null', 'bs=64K', `skip=${first}`, 'count=64K', 'iflag=skip_bytes,count_bytes', 'status=none']);
    // The 64 KiB read fails; then its sectors are read one by one (127 at 60 ms each): wait for some, a second more.
    const singles = () => readNbdkitLog(nbd.logFile).reads.filter((r) => r.count === SS && r.offset >= first && r.offset < BAD * SS && r.outcome === 'ok');
    for (let i = 0; i < 200 && singles().length < 4; i++) await sleep(50);
    await sleep(1000);
    const before = singles().length;
    await sleep(200); // those read back at least 200 ms before the kill
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && fs.existsSync(`/proc/${pid}`); i++) await sleep(50);
    forgetServer(pid);
    await dd.result;
    await run('fusermount3', ['-uz', mnt]);

    expect(before, 'single-sector reads before the kill').to.be.greaterThan(8);
    expect(before, 'the narrowing had not ended at the kill').to.be.lessThan(127);
    expectCacheFaithful(cache, image, 'after the kill');
    const readBack = singles().slice(0, before).map((r) => r.offset);
    const plus = plusRanges(cache);
    const uncommitted = readBack.filter((o) => !plus.some(([a, b]) => a <= o && o < b));
    expect(uncommitted, 'sectors read back well before the kill, not committed').to.deep.equal([]);
  });
});
