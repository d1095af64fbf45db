// `blkfs export MOUNTPOINT OUT` stopped part-way: the server writes OUT.blkfs-partial.<its pid>, and a stopped export
// removes it and leaves an earlier OUT as it was. Ctrl-C (SIGINT) or SIGTERM: the command waits for the server to
// clear up, says so, and ends of that signal (a shell reports 128 + its number). The command killed (SIGKILL): the
// server sees the control connection drop and stops the export the same way, rather than replacing OUT unasked.
// The export never reads the medium (only the cache), so a slow medium would not hold it: its mapfile is a FIFO that
// nobody reads yet, and a mapfile of thousands of lines fills the pipe, so the server stays inside the export, before
// its renames, until the test reads the FIFO.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { blkfs, cleanup, MAIN_JS, mount, patternImage, sleep, start, startNbdkit, tempDir, writeMedium } from './harness';

const SIZE = 2 << 20;
/** An earlier export at OUT, which a stopped export must leave as it is. */
const EARLIER = Buffer.from('an earlier export, to be left exactly as it is\n'.repeat(1000));

/** A ddrescue map of `size` bytes alternating 512 rescued and 512 bad: 4096 lines, over the 64 KiB a pipe holds. */
function stripedMap(size: number): string {
  const lines = ['0x00000000     +               1'];
  for (let pos = 0; pos < size; pos += 512) lines.push(`0x${pos.toString(16)}  0x200  ${pos % 1024 === 0 ? '+' : '-'}`);
  return lines.join('\n') + '\n';
}

/** Reads the FIFO (without waiting for a writer) until stopped: the server's blocked mapfile write then ends. */
function drain(fifo: string): () => void {
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(1 << 16);
  const timer = setInterval(() => {
    try {
      while (fs.readSync(fd, buf) > 0);
    } catch {
      // EAGAIN: its writer has written nothing more yet
    }
  }, 10);
  return () => {
    clearInterval(timer);
    fs.closeSync(fd);
  };
}

describe('mount: blkfs export stopped by a signal (real FUSE, nbdkit)', function () {
  this.timeout(60_000);
  let dir: string;
  let mnt: string;
  let log: string;
  let serverPid: number;

  before(async () => {
    dir = tempDir('export-stopped');
    const { imagePath, mapPath } = writeMedium(dir, patternImage(SIZE), []);
    fs.writeFileSync(path.join(dir, 'rescue.map'), stripedMap(SIZE));
    const nbd = await startNbdkit(dir, imagePath, mapPath);
    const cache = path.join(dir, 'cache');
    const imp = await blkfs(['import', imagePath, path.join(dir, 'rescue.map'), '--source', nbd.uri, '--cache', cache]);
    expect(imp.code, imp.stderr).to.equal(0);
    mnt = path.join(dir, 'mnt');
    serverPid = await mount(nbd.uri, mnt, ['--cache', cache, '--readahead', '0']);
    log = path.join(cache, 'mount.log');
  });

  after(() => cleanup(dir));

  const leftovers = () => fs.readdirSync(dir).filter((n) => n.includes('.blkfs-partial.'));
  const logSays = (what: string) => fs.readFileSync(log, 'utf8').includes(what);

  /**
   * `blkfs export MNT OUT FIFO` over an earlier OUT, sent `signal` once the server writes OUT's partial file; then the
   * FIFO is read, and one more export (exports run one at a time) waits for whatever the stopped one still does.
   */
  async function stoppedExport(name: string, signal: NodeJS.Signals) {
    const out = path.join(dir, `${name}.img`);
    const fifo = path.join(dir, `${name}.map`);
    fs.writeFileSync(out, EARLIER);
    execFileSync('mkfifo', [fifo]);
    const exp = start(process.execPath, [MAIN_JS, 'export', mnt, out, fifo]);
    const exited = new Promise<number>((resolve) => exp.child.on('exit', (code, sig) => resolve(code ?? 128 + os.constants.signals[sig!])));
    let gone = false;
    void exited.then(() => (gone = true));
    while (!fs.existsSync(`${out}.blkfs-partial.${serverPid}`)) await sleep(10);
    exp.child.kill(signal);
    // The server has heard of it (its log), or the command is gone without telling it.
    const heard = signal === 'SIGKILL' ? 'its client went away' : 'cancelled by its client';
    while (!logSays(`export to ${out}: ${heard}`) && !(gone && signal !== 'SIGKILL')) await sleep(10);
    const stopDraining = drain(fifo);
    try {
      const status = await exited;
      const { stderr } = await exp.result;
      const after = await blkfs(['export', mnt, path.join(dir, `${name}-after.img`)]);
      expect(after.code, after.stderr).to.equal(0);
      return { out, status, stderr };
    } finally {
      stopDraining();
    }
  }

  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} removes the partial file, leaves the earlier OUT byte for byte, says so and ends with status ${status}`, async () => {
      const r = await stoppedExport(signal.toLowerCase(), signal);
      expect(leftovers()).to.deep.equal([]);
      expect(fs.readFileSync(r.out).equals(EARLIER), 'OUT was replaced').to.equal(true);
      expect(r.status, r.stderr).to.equal(status);
      expect(r.stderr).to.contain('stopping the export');
      expect(r.stderr).to.contain(`blkfs: Interrupted (${signal}): the export was cancelled; ${r.out} is as before (no partial file is left)`);
    });
  }

  it('the command killed (SIGKILL): the server stops the export, its partial file removed, the earlier OUT untouched', async () => {
    const r = await stoppedExport('sigkill', 'SIGKILL');
    expect(r.status).to.equal(137);
    expect(leftovers()).to.deep.equal([]);
    expect(fs.readFileSync(r.out).equals(EARLIER), 'OUT was replaced').to.equal(true);
  });
});
