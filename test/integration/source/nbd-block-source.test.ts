// openBlockSource against real nbdkit: the file path spawns nbdkit, NBD URIs connect to a server the test runs.
import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { MediaError, SourceEvent, SourceLostError } from '../../../src/source/block-source';
import { MediumSizeChangedError, NbdBlockSource, openBlockSource } from '../../../src/source/nbd/nbd-block-source';
import { parseSourceArg, SourceArgError } from '../../../src/source/source-spec';
import { readNbdkitLog } from '../../helpers/nbdkit-log';
import { Fixture, IMAGE_SIZE, makeFixture, R1, R2, sleep, waitGone } from './fixture';

describe('openBlockSource (real nbdkit)', () => {
  let fx: Fixture;
  let source: NbdBlockSource | undefined;
  const children: ChildProcess[] = [];

  before(() => (fx = makeFixture()));
  after(() => fx.remove());
  afterEach(async () => {
    await source?.close();
    source = undefined;
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const badRangeOptions = () => ({ nbdkitFilters: ['ddrescue'], nbdkitArgs: [`ddrescue-mapfile=${fx.badMap}`] });

  /** An nbdkit the test itself runs (as a user would for an nbd:// SOURCE). */
  async function runNbdkit(listen: string[], readyFile: string, image = fx.image): Promise<ChildProcess> {
    fs.rmSync(readyFile, { force: true });
    const child = spawn('nbdkit', ['-r', '-f', '--exit-with-parent', ...listen, '-P', readyFile, 'file', `file=${image}`], { stdio: 'ignore' });
    children.push(child);
    for (let i = 0; i < 500 && !(fs.existsSync(readyFile) && fs.readFileSync(readyFile, 'utf8').endsWith('\n')); i++) await sleep(10);
    return child;
  }

  it('image file SOURCE: spawns nbdkit -r, reads the image bytes, counts reads, bytes and failures', async () => {
    source = await openBlockSource(parseSourceArg(fx.image), badRangeOptions());
    expect(source.size).to.equal(IMAGE_SIZE);
    expect(source.sectorSize).to.equal(512);
    expect(source.identityHint).to.include({ kind: 'file', path: fx.image, ino: fs.statSync(fx.image).ino });
    const cmdline = fs.readFileSync(`/proc/${source.nbdkitPid}/cmdline`, 'utf8').split('\0');
    expect(cmdline).to.include('-r');
    expect(cmdline).to.include('--exit-with-parent');

    expect((await source.read(0, 0x10000)).equals(fx.bytes.subarray(0, 0x10000))).to.equal(true);
    expect((await source.read(R2.offset + R2.length, 512)).equals(fx.bytes.subarray(R2.offset + R2.length, R2.offset + R2.length + 512))).to.equal(true);
    const err = await source.read(R2.offset, 512).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MediaError);
    expect(source.stats()).to.deep.include({ reads: 2, bytes: 0x10000 + 512, failedReads: 1, lostReads: 0 });
  });

  it('block device SOURCE (a read-only loop device with 4096-byte sectors): sector size from sysfs, same bytes', async function () {
    let loop: string;
    try {
      loop = execFileSync('losetup', ['-r', '-b', '4096', '-f', '--show', fx.image], { encoding: 'utf8' }).trim();
    } catch (err) {
      console.log(`      (no loop device here: ${(err as Error).message.split('\n')[0]})`);
      return this.skip();
    }
    try {
      const spec = parseSourceArg(loop);
      expect(spec.kind).to.equal('device');
      source = await openBlockSource(spec);
      expect(source.sectorSize).to.equal(4096);
      expect(source.size).to.equal(IMAGE_SIZE);
      expect(source.identityHint).to.include({ kind: 'device', path: loop });
      expect((await source.read(0x123000, 0x3000)).equals(fx.bytes.subarray(0x123000, 0x126000))).to.equal(true);
      await source.close();
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });

  it('rejects reads outside the medium with RangeError, not MediaError', async () => {
    source = await openBlockSource(parseSourceArg(fx.image));
    const err = await source.read(IMAGE_SIZE - 512, 1024).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RangeError);
  });

  it('close() drains, stops its nbdkit (exit 0) and removes the socket directory', async () => {
    source = await openBlockSource(parseSourceArg(fx.image));
    const pid = source.nbdkitPid!;
    const sockDir = fs.readdirSync('/tmp').filter((d) => d.startsWith('blkfs-nbdkit-')).find((d) => fs.existsSync(`/tmp/${d}/nbdkit.pid`) && fs.readFileSync(`/tmp/${d}/nbdkit.pid`, 'utf8').trim() === String(pid));
    expect(sockDir).to.be.a('string');
    const pending = source.read(0, 0x100000);
    await source.close();
    expect((await pending).equals(fx.bytes.subarray(0, 0x100000))).to.equal(true);
    expect(await waitGone(pid)).to.equal(true);
    expect(fs.existsSync(`/tmp/${sockDir}`)).to.equal(false);
    expect(await source.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);
  });

  it('nbdkit killed: in-flight reads get SourceLostError (not MediaError), the next read restarts nbdkit', async () => {
    source = await openBlockSource(parseSourceArg(fx.image), {
      nbdkitFilters: ['delay', 'ddrescue'],
      nbdkitArgs: [`ddrescue-mapfile=${fx.badMap}`, 'rdelay=200ms'],
    });
    const events: SourceEvent[] = [];
    source.onEvent((e) => events.push(e));
    const firstPid = source.nbdkitPid!;
    const inFlight = [source.read(0, 4096), source.read(R1.offset, 512)];
    await sleep(50);
    process.kill(firstPid, 'SIGKILL'); // the nbdkit openBlockSource started for this test
    for (const r of await Promise.allSettled(inFlight)) {
      expect((r as PromiseRejectedResult).reason).to.be.instanceOf(SourceLostError);
    }
    await sleep(300);
    expect(events.map((e) => e.type)).to.deep.equal(['lost']);
    expect(events[0].message).to.match(/killed by SIGKILL/);

    expect((await source.read(4096, 4096)).equals(fx.bytes.subarray(4096, 8192))).to.equal(true);
    expect(source.nbdkitPid).to.be.a('number').and.not.equal(firstPid);
    expect(events.map((e) => e.type)).to.deep.equal(['lost', 'reconnected']);
    expect(await source.read(R1.offset, 512).catch((e: unknown) => e)).to.be.instanceOf(MediaError); // filters came back too
    expect(source.stats()).to.deep.include({ reads: 1, failedReads: 1, lostReads: 2, reconnects: 1 });
  });

  it('while nbdkit cannot be restarted, reads keep failing with SourceLostError and a clear message; then it recovers', async () => {
    source = await openBlockSource(parseSourceArg(fx.image), { reconnectDelayMs: { initial: 300, max: 300 } });
    const hidden = `${fx.image}.away`;
    fs.renameSync(fx.image, hidden);
    try {
      process.kill(source.nbdkitPid!, 'SIGKILL');
      await sleep(100);
      const first = await source.read(0, 512).catch((e: unknown) => e);
      expect(first).to.be.instanceOf(SourceLostError);
      expect((first as Error).message).to.match(/could not be reconnected: nbdkit exited .*medium\.img/);
      const second = await source.read(0, 512).catch((e: unknown) => e);
      expect(second).to.be.instanceOf(SourceLostError);
      expect((second as Error).message).to.match(/next reconnect attempt in 0\.\d s/);
    } finally {
      fs.renameSync(hidden, fx.image);
    }
    await sleep(350);
    expect((await source.read(0, 512)).equals(fx.bytes.subarray(0, 512))).to.equal(true);
  });

  it('nbd+unix URI: connects to an nbdkit run by the test, spawns none, reconnects after that server restarts', async () => {
    const sock = path.join(fx.dir, 'user.sock');
    const pidfile = path.join(fx.dir, 'user.pid');
    let server = await runNbdkit(['-U', sock], pidfile);
    source = await openBlockSource(parseSourceArg(`nbd+unix:///?socket=${sock}`), { reconnectDelayMs: { initial: 100, max: 100 } });
    expect(source.nbdkitPid).to.equal(undefined);
    expect(source.identityHint).to.deep.equal({ kind: 'nbd', uri: `nbd+unix:///?socket=${sock}` });
    expect(source.size).to.equal(IMAGE_SIZE);
    expect((await source.read(0x1234, 100)).equals(fx.bytes.subarray(0x1234, 0x1234 + 100))).to.equal(true);

    // After SIGTERM nbdkit answers ESHUTDOWN and waits for its clients to disconnect before it exits.
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await sleep(100); // let nbdkit handle the signal
    const lost = await source.read(0, 512).catch((e: unknown) => e);
    expect(lost).to.be.instanceOf(SourceLostError);
    expect((lost as Error).message).to.match(/shutting down/);
    await exited;
    fs.rmSync(sock, { force: true }); // nbdkit leaves its socket behind
    expect(await source.read(0, 512).catch((e: unknown) => e)).to.be.instanceOf(SourceLostError);

    server = await runNbdkit(['-U', sock], pidfile);
    await sleep(150);
    expect((await source.read(0, 512)).equals(fx.bytes.subarray(0, 512))).to.equal(true);
  });

  it('a server back with a medium of another size: every read until the next attempt says another medium (MediumSizeChangedError), never only "lost"', async () => {
    const sock = path.join(fx.dir, 'resized.sock');
    const pidfile = path.join(fx.dir, 'resized.pid');
    let server = await runNbdkit(['-U', sock], pidfile);
    source = await openBlockSource(parseSourceArg(`nbd+unix:///?socket=${sock}`), { reconnectDelayMs: { initial: 60_000, max: 60_000 } });
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGKILL');
    await exited;
    fs.rmSync(sock, { force: true });
    const other = path.join(fx.dir, 'other-size.img');
    fs.writeFileSync(other, Buffer.alloc(IMAGE_SIZE / 2, 7));
    server = await runNbdkit(['-U', sock], pidfile, other);
    await source.read(0, 512).catch(() => undefined); // the read that finds the connection gone
    for (let i = 0; i < 3; i++) {
      const e = await source.read(0, 512).catch((err: unknown) => err);
      expect(e, `read ${i} after the other medium came`).to.be.instanceOf(MediumSizeChangedError); // ENOMEDIUM to readers, not ENXIO
    }
  });

  it('nbd:// URI over TCP, with the log filter showing exactly the reads made', async () => {
    const port = await freePort();
    const logfile = path.join(fx.dir, 'tcp.log');
    const pidfile = path.join(fx.dir, 'tcp.pid');
    const child = spawn('nbdkit', ['-r', '-f', '--exit-with-parent', '-i', '127.0.0.1', '-p', String(port), '-P', pidfile,
      '--filter=log', 'file', `file=${fx.image}`, `logfile=${logfile}`], { stdio: 'ignore' });
    children.push(child);
    for (let i = 0; i < 500 && !fs.existsSync(pidfile); i++) await sleep(10);
    source = await openBlockSource(parseSourceArg(`nbd://127.0.0.1:${port}`));
    const reads = [[0, 0x200], [0x3ffe00, 0x200], [0x100000, 0x100000]];
    for (const [offset, length] of reads) expect((await source.read(offset, length)).equals(fx.bytes.subarray(offset, offset + length))).to.equal(true);
    await source.close();
    expect(readNbdkitLog(logfile).ok).to.deep.equal(reads.map(([offset, length]) => ({ offset, length })));
  });

  it('rejects a bad --block-size with SourceArgError; honours a good one', async () => {
    const err = await openBlockSource(parseSourceArg(fx.image), { sectorSize: 1000 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceArgError);
    source = await openBlockSource(parseSourceArg(fx.image), { sectorSize: 4096 });
    expect(source.sectorSize).to.equal(4096);
  });

  it('an nbd URI nobody serves fails with SourceLostError naming it', async () => {
    const port = await freePort();
    const err = await openBlockSource(parseSourceArg(`nbd://127.0.0.1:${port}/disk`)).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(SourceLostError);
    expect((err as Error).message).to.contain(`nbd://127.0.0.1:${port}/disk`);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
