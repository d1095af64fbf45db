// `sbx update` and `sbx repair` write into an existing container. A stop signal (Ctrl-C, SIGTERM, SIGHUP) must not
// split what belongs together: update rewrites every metadata copy (p + 1 of them) or none, repair writes whole blocks;
// what was written is synced, one line says what was done and what not, and the process ends of that signal.
// The container is reached through nbdfuse over nbdkit's delay filter (each write takes 10 ms), so the run is long
// enough to be stopped once its first write shows in the file behind it.
import { expect } from 'chai';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeFile } from '../../../src/sbx/encode';
import { lcgBytes } from '../../helpers/seeded-random';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');
const BLOCK = 512; // version 17
const PARITY = 200; // metadata copies at blocks 0..200 (burst 0)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `file` as `mountpoint/c.ecsbx` on nbdfuse, each write delayed 10 ms by nbdkit; resolves once it is served. */
async function slowWrites(file: string, mountpoint: string): Promise<{ path: string; stop: () => Promise<void> }> {
  fs.mkdirSync(mountpoint);
  const pidfile = `${mountpoint}.pid`;
  const args = ['-P', pidfile, path.join(mountpoint, 'c.ecsbx'), '[', 'nbdkit', 'file', file, '--filter=delay', 'wdelay=10ms', ']'];
  const child: ChildProcess = spawn('nbdfuse', args, { stdio: 'ignore' });
  while (!(fs.existsSync(pidfile) && fs.readFileSync(pidfile, 'utf8').trim())) {
    if (child.exitCode !== null) throw new Error('nbdfuse did not start');
    await sleep(20);
  }
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    if (spawnSync('fusermount3', ['-u', mountpoint]).status !== 0) child.kill('SIGTERM');
    await exited;
  };
  return { path: path.join(mountpoint, 'c.ecsbx'), stop };
}

/** `blkfs sbx ARGS`, sent `signal` once `firstWriteShows()`; the exit status a shell reports, and what it printed. */
async function stoppedRun(args: string[], signal: NodeJS.Signals, firstWriteShows: () => boolean) {
  const child = spawn(process.execPath, [MAIN, 'sbx', ...args]);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + os.constants.signals[sig!])));
  while (!firstWriteShows()) await sleep(2);
  child.kill(signal);
  return { status: await exited, stdout };
}

const blockAt = (bytes: Buffer, i: number) => bytes.subarray(i * BLOCK, (i + 1) * BLOCK);

describe('sbx update and repair stopped by a signal', function () {
  this.timeout(60_000);
  let dir: string;
  let original: Buffer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-in-place-'));
    fs.writeFileSync(path.join(dir, 'data'), lcgBytes(300_000, 3));
    const opts = { version: 17 as const, d: 40, p: PARITY, burst: 0, uid: Buffer.from('0123456789AB', 'hex') };
    await encodeFile(path.join(dir, 'data'), path.join(dir, 'original.ecsbx'), opts);
    original = fs.readFileSync(path.join(dir, 'original.ecsbx'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('update stopped by SIGTERM after its first metadata copy still rewrites all of them alike, says so, and ends with status 143', async () => {
    const file = path.join(dir, 'update.ecsbx');
    fs.writeFileSync(file, original);
    const slow = await slowWrites(file, path.join(dir, 'update-mnt'));
    let r;
    try {
      const firstCopyChanged = () => !blockAt(fs.readFileSync(file), 0).equals(blockAt(original, 0));
      r = await stoppedRun(['update', '-y', '--pv', '0', '--fnm', 'renamed.bin', slow.path], 'SIGTERM', firstCopyChanged);
    } finally {
      await slow.stop();
    }
    const bytes = fs.readFileSync(file);
    const copies = Array.from({ length: PARITY + 1 }, (_, i) => blockAt(bytes, i).toString('hex'));
    expect(new Set(copies).size, 'metadata copies that disagree').to.equal(1);
    expect(copies[0]).to.contain(Buffer.from('renamed.bin').toString('hex'));
    expect(bytes.subarray((PARITY + 1) * BLOCK).equals(original.subarray((PARITY + 1) * BLOCK))).to.equal(true);
    expect(r.status, r.stdout).to.equal(143);
    expect(r.stdout).to.contain(`Interrupted (SIGTERM); all ${PARITY + 1} metadata blocks were updated first`);
  });

  it('repair stopped by Ctrl-C (SIGINT) writes only whole blocks, says how many, ends with status 130, and a second run finishes it', async () => {
    const damaged = Buffer.from(original);
    const lost: number[] = [];
    for (let i = PARITY + 1; i < damaged.length / BLOCK; i += 20) lost.push(i); // a dozen blocks of every set
    for (const i of lost) blockAt(damaged, i).fill(0);
    const file = path.join(dir, 'repair.ecsbx');
    fs.writeFileSync(file, damaged);
    const slow = await slowWrites(file, path.join(dir, 'repair-mnt'));
    let r;
    try {
      const firstBlockRepaired = () => !blockAt(fs.readFileSync(file), lost[0]).equals(blockAt(damaged, lost[0]));
      r = await stoppedRun(['repair', '-y', '--pv', '0', slow.path], 'SIGINT', firstBlockRepaired);
    } finally {
      await slow.stop();
    }
    const bytes = fs.readFileSync(file);
    const repaired = lost.filter((i) => blockAt(bytes, i).equals(blockAt(original, i)));
    const untouched = lost.filter((i) => blockAt(bytes, i).equals(blockAt(damaged, i)));
    expect(repaired.length + untouched.length, 'blocks neither repaired nor left as they were').to.equal(lost.length);
    expect(untouched.length, 'the run was stopped before its end').to.be.greaterThan(0);
    expect(r.status, r.stdout).to.equal(130);
    const n = repaired.length;
    expect(r.stdout).to.contain(`Interrupted (SIGINT); ${n} repaired block${n === 1 ? ' was' : 's were'} written whole and synced`);
    expect(spawnSync(process.execPath, [MAIN, 'sbx', 'repair', '-y', '--pv', '0', file]).status).to.equal(0);
    expect(fs.readFileSync(file).equals(original)).to.equal(true);
  });
});
