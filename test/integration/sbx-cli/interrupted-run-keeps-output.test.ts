// A run stopped by Ctrl-C (SIGINT), SIGTERM or SIGHUP ends as a failed run does: what it wrote is kept under OUT, or
// beside an earlier OUT as OUT.incomplete (that OUT untouched), one line says where, and the process ends of that
// signal: a shell reports 128 + its number. The input is a pipe (stdin, a FIFO) fed a little more than one 8 MiB batch
// and left open, so encode has written that batch and waits for more when the signal comes.
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import { encodeStream } from '../../../src/sbx/encode';
import { lcgBytes } from '../../helpers/seeded-random';

const MAIN = path.resolve(__dirname, '../../../src/cli/main.js');
const UID = '0123456789AB';
const BLOCK = 512; // version 1: one metadata block, the first; every other block is the same in any encode of the data

/**
 * `blkfs sbx encode INPUT OUT` fed `data` through a pipe left open (stdin for `-`, else the FIFO INPUT), sent `signal`
 * once it has written some of OUT.
 */
async function stoppedEncode(data: Buffer, input: string, out: string, signal: NodeJS.Signals, args: string[] = []) {
  const child = spawn(process.execPath, [MAIN, 'sbx', 'encode', '--pv', '0', '--sbx-version', '1', '--uid', UID, ...args, input, out]);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  // The exit status a shell reports ($?).
  const exited = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + os.constants.signals[sig!])));
  const feed = input === '-' ? child.stdin : fs.createWriteStream(input);
  feed.on('error', () => undefined); // the pipe's reader is gone once it stops
  feed.write(data);
  const written = `${out}.blkfs-partial.${child.pid}`; // where OUT is written until it is whole
  while (!(fs.statSync(written, { throwIfNoEntry: false })?.size ?? 0)) await new Promise((r) => setTimeout(r, 10));
  child.kill(signal);
  const status = await exited;
  feed.destroy();
  return { status, stdout };
}

describe('sbx encode stopped by a signal', function () {
  this.timeout(20_000);
  let dir: string;
  let data: Buffer;
  let whole: Buffer; // the container of all of `data`
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-sbx-stopped-'));
    data = lcgBytes(8_500_000, 7);
    await encodeStream(Readable.from([data]), path.join(dir, 'whole.sbx'), { version: 1, uid: Buffer.from(UID, 'hex') });
    whole = fs.readFileSync(path.join(dir, 'whole.sbx'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const leftovers = () => fs.readdirSync(dir).filter((n) => n.includes('.blkfs-partial.'));
  /** Whole blocks, each the one the finished container holds there (past the metadata block). */
  const expectBlocksOfWhole = (kept: Buffer) => {
    expect(kept.length % BLOCK).to.equal(0);
    expect(kept.length).to.be.greaterThan(8 << 20); // the batch written before the signal
    expect(kept.subarray(BLOCK).equals(whole.subarray(BLOCK, kept.length))).to.equal(true);
  };

  it('Ctrl-C (SIGINT) keeps what was written under a new OUT, says so in one line, and ends with status 130', async () => {
    const out = path.join(dir, 'new.sbx');
    const r = await stoppedEncode(data, '-', out, 'SIGINT');
    expect(r.status, r.stdout).to.equal(130);
    expect(r.stdout.trimEnd().split('\n')).to.have.length(1);
    expect(r.stdout).to.contain(`what was written is kept in "${out}"`);
    expect(leftovers()).to.deep.equal([]);
    expectBlocksOfWhole(fs.readFileSync(out));
  });

  it('SIGTERM leaves an existing OUT (-f) as it was, keeps the bytes in OUT.incomplete, and ends with status 143 (also while a read waits on a FIFO)', async () => {
    const out = path.join(dir, 'earlier.sbx');
    fs.writeFileSync(out, 'an earlier container');
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = await stoppedEncode(data, fifo, out, 'SIGTERM', ['-f']);
    expect(r.status, r.stdout).to.equal(143);
    expect(r.stdout).to.contain(`what was written is kept in "${out}.incomplete"`);
    expect(fs.readFileSync(out, 'utf8')).to.equal('an earlier container');
    expect(leftovers()).to.deep.equal([]);
    expectBlocksOfWhole(fs.readFileSync(`${out}.incomplete`));
  });
});
