import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NbdkitProcess, NbdkitStartError } from '../../../src/source/nbd/nbdkit-process';
import { waitGone } from './fixture';

describe('NbdkitProcess (real nbdkit)', () => {
  it('starts read-only on a private socket, ready when the pidfile appears; stop() exits 0 and cleans up', async () => {
    const server = await NbdkitProcess.start({ args: ['pattern', '1M'] });
    if (!('socket' in server.target)) throw new Error('expected a unix socket target');
    const dir = path.dirname(server.target.socket);
    expect(fs.statSync(server.target.socket).isSocket()).to.equal(true);
    expect(fs.readFileSync(path.join(dir, 'nbdkit.pid'), 'utf8').trim()).to.equal(String(server.pid));
    expect(fs.statSync(dir).mode & 0o077).to.equal(0); // mkdtemp: private to us
    const argv = fs.readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
    expect(argv).to.include.members(['-r', '--exit-with-parent', '-f']);
    await server.stop();
    expect(await server.exited).to.equal(0);
    expect(fs.existsSync(dir)).to.equal(false);
  });

  it('nbdkit exiting before it is ready is an NbdkitStartError with its own message; nothing left behind', async () => {
    // Its private dir goes where os.tmpdir() says: a directory of this test's own, which mounts of other test
    // files running beside it (make test runs two at once) do not use.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nbdkit-start-'));
    const was = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const err = await NbdkitProcess.start({ filters: ['ddrescue'], args: ['pattern', '1M', 'ddrescue-mapfile=/nonexistent/bad.map'] }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(NbdkitStartError);
      expect((err as Error).message).to.match(/nbdkit exited \(exit code 1\): .*\/nonexistent\/bad\.map/);
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
    }
    expect(fs.readdirSync(tmp)).to.deep.equal([]);
    fs.rmdirSync(tmp);
  });

  it('a missing nbdkit executable is an NbdkitStartError saying so', async () => {
    const err = await NbdkitProcess.start({ command: 'nbdkit-not-installed-here', args: ['pattern', '1M'] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(NbdkitStartError);
    expect((err as Error).message).to.match(/cannot run nbdkit-not-installed-here: .*ENOENT.*is nbdkit installed/);
  });

  it('--exit-with-parent: nbdkit dies when the Node process that started it is killed -9', async () => {
    const script = `require(${JSON.stringify(path.resolve(__dirname, '../../../src/source/nbd/nbdkit-process'))})` +
      `.NbdkitProcess.start({ args: ['pattern', '1M'] }).then((s) => console.log(s.pid)); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(d.toString()))));
    expect(pid).to.be.greaterThan(0);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const sockDir = path.dirname(argv[argv.indexOf('-U') + 1]);
    parent.kill('SIGKILL');
    expect(await waitGone(pid, 5000)).to.equal(true);
    // Nobody was left to remove the private directory (nbdkit never deletes its socket): the test does.
    expect(fs.existsSync(sockDir)).to.equal(true);
    fs.rmSync(sockDir, { recursive: true, force: true });
  });
});
