// An NBD server the user points blkfs at may be buggy or hostile (test/helpers/hostile-nbd-server.ts plays one).
// A protocol violation is no verdict on the medium: nothing is marked, readers and acquire get clean errors, and
// unmounting works even when the server stops answering mid-reply. Real FUSE, real blkfs processes.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { HostileServer, hostileContent, NbdRequest, Replier, startHostileNbdServer } from '../../helpers/hostile-nbd-server';
import { blkfs, cleanup, MAIN_JS, mapBlocks, mount, readStatus, run, RunResult, start, tempDir } from './harness';
import { waitFor } from '../integrity/cache-truth';
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

/** Blocks of a mapfile other than '+' and '?': a verdict on sectors (none is due for a read never answered). */
function notSettledOrUntried(mapfile: string) {
  return mapBlocks(mapfile).filter((b) => b.status !== '+' && b.status !== '?');
}

/** The /status fields these tests wait on. */
async function statusOf(mnt: string) {
  return (await readStatus(mnt)) as unknown as { acquiring: boolean; medium: { state: string; identifications: number } };
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
  /**
   * Connections the server stopped answering on: silent from then on, whatever mode says, as a hung server is. Were
   * later requests answered there, their replies would follow the half-sent header and corrupt the stream: a protocol
   * error instead of a stall, met or not depending on the order of TSK's and the copying pass's reads.
   */
  const stalled = new Set<number>();

  before(async () => {
    dir = tempDir('hostile-nbd');
    server = await startHostileNbdServer({
      onRead: (req: NbdRequest, r: Replier, connection: number) => {
        if (stalled.has(connection)) return;
        if (mode === 'honest' || !inRegion(req)) return r.honest(req);
        if (mode === 'overlap') {
          // every byte covered, half of them twice and half never: the byte count adds up, the coverage does not
          r.data(req, req.offset, req.length / 2, false);
          r.data(req, req.offset, req.length / 2, true);
        } else {
          r.raw(Buffer.from('668e33ef0001', 'hex')); // a chunk header begun, then silence
          stalled.add(connection);
        }
      },
    });
  });
  afterEach(() => {
    mode = 'honest';
    stalled.clear();
  });
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
    this.timeout(150_000); // two 5 s graces (STALLED_READ_GRACE_MS), three mounts and four blkfs processes on a loaded machine
    const mnt = path.join(dir, 'mnt-stall');
    const cache = path.join(dir, 'cache-stall');
    await mount(server.uri, mnt, ['--cache', cache, '--readahead', '0']);
    mode = 'stall';
    /** `blkfs acquire` in the background, once its acquisition runs and the server has stopped answering. */
    const acquireUntilStalled = async () => {
      const acquire = start(process.execPath, [MAIN_JS, 'acquire', '-q', mnt], { timeoutMs: 90_000 });
      let exited: RunResult | undefined;
      void acquire.result.then((r) => (exited = r));
      await waitFor('the acquisition to run into the stall', async () => {
        if (exited) throw new Error(`acquire ended (${exited.code}) before the server stalled: ${exited.stderr}`);
        return stalled.size > 0 && (await statusOf(mnt)).acquiring;
      }, 60_000);
      return acquire;
    };
    const interrupted = await acquireUntilStalled();
    interrupted.child.kill('SIGINT');
    // New connections (the reconnect after the hang-up) are answered: the same medium is identified again.
    mode = 'honest';
    expect((await interrupted.result).code).to.equal(130);
    await waitFor('the medium identified again', async () => {
      const { medium } = await statusOf(mnt);
      return medium.identifications > 0 && medium.state === 'present';
    }, 60_000);
    expect(notSettledOrUntried(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'))).to.deep.equal([]);

    stalled.clear();
    mode = 'stall';
    const acquire = await acquireUntilStalled();
    const u = await blkfs(['umount', mnt], { timeoutMs: 60_000 });
    expect(u.code, u.stderr).to.equal(0);
    expect(mountAt(mnt)).to.equal(undefined);
    const a = await acquire.result;
    expect(a.code, a.stderr).to.equal(2);

    // the stalled sectors were never marked: mounted again on an honest server, they are untried, then read and right
    mode = 'honest';
    await mount(server.uri, mnt, ['--cache', cache, '--readahead', '0']);
    expect(notSettledOrUntried(await fs.promises.readFile(path.join(mnt, 'mapfile'), 'utf8'))).to.deep.equal([]);
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
