// An NBD server the user points blkfs at may be buggy or hostile (test/helpers/hostile-nbd-server.ts plays one).
// A protocol violation is no verdict on the medium: nothing is marked, readers and acquire get clean errors, and
// unmounting works even when the server stops answering mid-reply. Real FUSE, real blkfs processes.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { HostileServer, hostileContent, NbdRequest, Replier, startHostileNbdServer } from '../../helpers/hostile-nbd-server';
import { blkfs, cleanup, MAIN_JS, mapBlocks, mount, run, start, tempDir } from './harness';
import { mountAt } from '../../../src/fuse/mountinfo';

const SIZE = 1 << 20;
/** Where the server misbehaves once armed (after the mount's identity probe). */
const REGION = { offset: 576 << 10, length: 64 << 10 };

type Mode = 'honest' | 'overlap' | 'stall';

const inRegion = (q: NbdRequest) => q.offset < REGION.offset + REGION.length && q.offset + q.length > REGION.offset;

/** Reads /raw at `offset`: the bytes, or the error code. */
async function readRaw(mnt: string, offset: number, length: number): Promise<Buffer | string> {
  const fh = await fs.promises.open(path.join(mnt, 'raw'), 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  } finally {
    await fh.close();
  }
}

/** The '+' blocks of the live mapfile that touch REGION. */
async function readyInRegion(mnt: string) {
  const blocks = mapBlocks(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'));
  return blocks.filter((b) => b.status === '+' && inRegion({ offset: b.pos, length: b.size } as NbdRequest));
}

describe('mount: a buggy or hostile NBD server (real FUSE, scripted server)', function () {
  let dir: string;
  let server: HostileServer;
  let mode: Mode = 'honest';

  before(async () => {
    dir = tempDir('hostile-nbd');
    server = await startHostileNbdServer({
      onRead: (req: NbdRequest, r: Replier) => {
        if (mode === 'honest' || !inRegion(req)) return r.honest(req);
        if (mode === 'overlap') {
          // every byte covered, half of them twice and half never: the byte count adds up, the coverage does not
          r.data(req, req.offset, req.length / 2, false);
          r.data(req, req.offset, req.length / 2, true);
        } else r.raw(Buffer.from('668e33ef0001', 'hex')); // a chunk header begun, then silence
      },
    });
  });
  afterEach(() => (mode = 'honest'));
  after(async () => {
    await cleanup(dir);
    await server.close();
  });

  it('overlapping reply chunks: the reader gets an error, acquire exits 2, nothing in the region is marked; once honest, the right bytes', async () => {
    const mnt = path.join(dir, 'mnt-overlap');
    const cache = path.join(dir, 'cache-overlap');
    await mount(server.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const probed = await readyInRegion(mnt); // the identity probe's samples, read before the server turns bad
    mode = 'overlap';
    expect(await readRaw(mnt, REGION.offset, 4096)).to.be.a('string');
    const a = await blkfs(['acquire', '-q', mnt], { timeoutMs: 60_000 });
    expect(a.code, a.stderr).to.equal(2);
    expect(a.stderr).to.match(/READ reply chunks overlap/);
    const blocks = mapBlocks(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'));
    expect(blocks.filter((b) => b.status === '-')).to.deep.equal([]);
    expect(await readyInRegion(mnt)).to.deep.equal(probed);

    mode = 'honest';
    const again = await blkfs(['acquire', '-q', mnt], { timeoutMs: 60_000 });
    expect(again.code, again.stderr).to.equal(0);
    expect(await readRaw(mnt, 0, SIZE)).to.deep.equal(hostileContent(0, SIZE));
    const u = await blkfs(['umount', mnt]);
    expect(u.code, u.stderr).to.equal(0);
  });

  it('a server that stops answering mid-reply: Ctrl-C stops acquire (exit 130), umount still ends the mount (exit 0) and a running acquire (exit 2); nothing is marked for the stalled reads', async function () {
    this.timeout(90_000);
    const mnt = path.join(dir, 'mnt-stall');
    const cache = path.join(dir, 'cache-stall');
    await mount(server.uri, mnt, ['--cache', cache, '--readahead', '0']);
    mode = 'stall';
    /** `blkfs acquire` in the background, once a read of the region waits for its reply. */
    const acquireUntilStalled = async () => {
      const before = server.requests.length;
      const acquire = start(process.execPath, [MAIN_JS, 'acquire', '-q', mnt], { timeoutMs: 60_000 });
      while (!server.requests.slice(before).some(inRegion)) await new Promise((r) => setTimeout(r, 50));
      return acquire;
    };
    const interrupted = await acquireUntilStalled();
    interrupted.child.kill('SIGINT');
    expect((await interrupted.result).code).to.equal(130);

    const acquire = await acquireUntilStalled();
    const u = await blkfs(['umount', mnt], { timeoutMs: 45_000 });
    expect(u.code, u.stderr).to.equal(0);
    expect(mountAt(mnt)).to.equal(undefined);
    const a = await acquire.result;
    expect(a.code, a.stderr).to.equal(2);

    // the stalled sectors were never marked: mounted again on an honest server, they are read and right
    mode = 'honest';
    await mount(server.uri, mnt, ['--cache', cache, '--readahead', '0']);
    const again = await blkfs(['acquire', '-q', mnt], { timeoutMs: 60_000 });
    expect(again.code, again.stderr).to.equal(0);
    expect(await readRaw(mnt, 0, SIZE)).to.deep.equal(hostileContent(0, SIZE));
    expect((await blkfs(['umount', mnt])).code).to.equal(0);
  });

  it('an export larger than a file may be where the cache is (EFBIG, here from ulimit -f): mount exit 1 saying so', async () => {
    const big = await startHostileNbdServer({ size: 64 << 20 });
    try {
      const mnt = path.join(dir, 'mnt-big');
      fs.mkdirSync(mnt);
      const r = await run('bash', ['-c', 'ulimit -f 8192; exec "$@"', 'bash', process.execPath, MAIN_JS, 'mount', big.uri, mnt, '--cache', path.join(dir, 'cache-big')]);
      if (r.code === 0) await blkfs(['umount', mnt]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/cannot make the cache data file .* 67108864 bytes long \(EFBIG/);
    } finally {
      await big.close();
    }
  });
});
