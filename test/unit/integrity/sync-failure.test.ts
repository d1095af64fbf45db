// A failed fdatasync of the data file. On Linux a writeback error is reported once: the pages that failed are marked
// clean, and the next fdatasync succeeds without having written them (PostgreSQL's "fsyncgate", 2018). So once one
// fails, no byte written before it may be recorded '+' on the word of a later one, and reading on from the device
// would only read sectors again that could never be kept.
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCache } from '../../../src/cache/cache-open';
import { CachedDevice } from '../../../src/cache/cached-device';
import { DATA_FILE } from '../../../src/cache/cache-paths';
import { MemorySource, patternBuffer } from '../../helpers/memory-source';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('integrity/a failed fdatasync of the data file', () => {
  let tmp: string;
  let dev: CachedDevice | undefined;
  let restore = () => {};
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-syncfail-'))));
  afterEach(async () => {
    restore();
    await dev?.close().catch(() => undefined);
    dev = undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('bytes written before it are never recorded "+" by a later fdatasync, and no more device reads are made', async () => {
    const img = patternBuffer(4 * MiB, 3);
    const src = new MemorySource(img);
    dev = await openCache({ source: src, cacheDir: path.join(tmp, 'c') });
    // The first fdatasync of the data file waits for the test, then fails as a disk's writeback error does; later
    // ones (and the WAL's) really sync.
    const probe = await fs.promises.open(path.join(tmp, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const { datasync } = proto;
    restore = () => (proto.datasync = datasync);
    let calls = 0;
    let fail!: () => void;
    const gate = new Promise<void>((r) => (fail = r));
    proto.datasync = async function (this: fs.promises.FileHandle) {
      if (path.basename(fs.readlinkSync(`/proc/self/fd/${this.fd}`)) !== DATA_FILE || ++calls > 1) return datasync.call(this);
      await gate;
      throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    };
    const a = 1 * MiB + 8192;
    const b = 2 * MiB + 8192;
    const len = 64 * 1024;
    for (const at of [a, b]) expect(dev.statusAt(at / 512)).to.equal('?');
    // Reader A is answered once its bytes are written; their group commit begins with the fdatasync held above.
    expect((await dev.read(a, len)).data.equals(img.subarray(a, a + len))).to.equal(true);
    for (let i = 0; i < 100 && calls === 0; i++) await sleep(10);
    expect(calls, 'the commit of A reached its fdatasync').to.equal(1);
    // Reader B's bytes are written while that fdatasync is under way: they are among the pages it writes back.
    expect((await dev.read(b, len)).data.equals(img.subarray(b, b + len))).to.equal(true);
    fail();
    const flushed = await dev.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(flushed, 'the failure is reported, not hidden').to.be.instanceOf(Error);
    expect(dev.statusAt(a / 512), 'A: its commit failed').to.not.equal('+');
    expect(dev.statusAt(b / 512), "B: written before the failed fdatasync, so a later one proves nothing of it").to.not.equal('+');
    // Nothing read from the device now could be kept: a reader of untried sectors gets the error, the device is not read.
    const reads = src.log.length;
    const c = 3 * MiB + 8192;
    const err = await dev.read(c, 4096).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, 'a read of untried sectors fails loudly').to.be.instanceOf(Error);
    expect(src.log.length, 'no device read whose bytes could not be kept').to.equal(reads);
    // What was durably cached before is still served.
    expect((await dev.read(0, 4096)).data.equals(img.subarray(0, 4096))).to.equal(true);
  });
});
