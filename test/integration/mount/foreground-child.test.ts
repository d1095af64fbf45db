// `blkfs mount -f` started from a shell runs its server in a child process (src/cli/foreground-child.ts: only a new
// process can have the 1 MiB-read shim preloaded). The child must behave as the command did when it was the server:
// - killed with SIGKILL, the command takes the server with it: the mount is left dead, as after any crash, and
//   `blkfs umount` clears it (a server left running kept the mount, the cache and the medium, with nobody to stop it);
// - Ctrl-Z (SIGTSTP) stops the server as well, and fg (SIGCONT) resumes it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { MAX_PAGES_SHIM } from '../../../src/fuse/request-size';
import { blkfs, cleanup, MAIN_JS, NbdkitServer, patternImage, readStatus, sleep, start, startNbdkit, tempDir, umount, writeMedium } from './harness';

/** The state letter of /proc/PID/stat (T: stopped, Z: ended, not yet reaped). */
function state(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0];
}

/** Whether `pid` still runs (an orphan that ended waits for init to reap it: a zombie has ended). */
function running(pid: number): boolean {
  try {
    return state(pid) !== 'Z';
  } catch {
    return false;
  }
}

describe('mount -f: the server in a child behaves as the command', function () {
  let dir: string;
  let nbd: NbdkitServer;
  let mnt: string;

  before(async function () {
    if (!fs.existsSync(MAX_PAGES_SHIM)) this.skip(); // without the shim -f serves in its own process: nothing to check
    dir = tempDir('fg-child');
    const { imagePath, mapPath } = writeMedium(dir, patternImage(8 << 20), []);
    nbd = await startNbdkit(dir, imagePath, mapPath);
  });
  after(async () => {
    await nbd?.stop();
    if (dir) cleanup(dir);
  });

  /** `mount -f` as from a shell (the command itself starts without the shim), once mounted: it and its server's pid. */
  async function mountForeground(tag: string): Promise<{ fg: ReturnType<typeof start>; serverPid: number }> {
    mnt = path.join(dir, `mnt-${tag}`);
    fs.mkdirSync(mnt);
    const env = { ...process.env, LD_PRELOAD: '' };
    const fg = start(process.execPath, [MAIN_JS, 'mount', '-f', nbd.uri, mnt, '--cache', path.join(dir, `cache-${tag}`)], { env });
    for (let i = 0; i < 200 && !fs.existsSync(path.join(mnt, 'raw')); i++) await sleep(50);
    const serverPid = (await readStatus(mnt)).server.pid;
    expect(serverPid, 'the server runs in a child of the command').to.not.equal(fg.child.pid);
    return { fg, serverPid };
  }

  /** Ends a server this test started (through its command) that is still there: it unmounts. */
  async function stopServer(serverPid: number): Promise<void> {
    if (serverPid <= 0 || !running(serverPid)) return;
    process.kill(serverPid, 'SIGCONT');
    process.kill(serverPid, 'SIGTERM');
    for (let i = 0; i < 100 && running(serverPid); i++) await sleep(50);
  }

  it('killed with SIGKILL: its server dies with it, the mount is left dead, and blkfs umount clears it', async () => {
    const { fg, serverPid } = await mountForeground('kill');
    try {
      fg.child.kill('SIGKILL');
      for (let i = 0; i < 100 && running(serverPid); i++) await sleep(50);
      expect(running(serverPid), 'the server outlived its command').to.equal(false);
      await fg.result; // the server held the command's stdout and stderr too

      expect(() => fs.statSync(path.join(mnt, 'raw'))).to.throw(/ENOTCONN/);
      await umount(mnt);
      expect(fs.readdirSync(mnt)).to.deep.equal([]);
    } finally {
      await stopServer(serverPid);
      await fg.result;
    }
  });

  it('Ctrl-Z (SIGTSTP) stops its server too, and fg (SIGCONT) resumes it; Ctrl-C then unmounts', async () => {
    const { fg, serverPid } = await mountForeground('tstp');
    const commandPid = fg.child.pid as number;
    try {
      fg.child.kill('SIGTSTP');
      for (let i = 0; i < 100 && (state(serverPid) !== 'T' || state(commandPid) !== 'T'); i++) await sleep(50);
      expect([state(commandPid), state(serverPid)]).to.deep.equal(['T', 'T']);
      const stopped = await blkfs(['status', mnt]);
      expect(stopped.code).to.equal(2);
      expect(stopped.stderr).to.include(`(pid ${serverPid}) does not answer (it is stopped`);

      fg.child.kill('SIGCONT');
      for (let i = 0; i < 100 && state(serverPid) === 'T'; i++) await sleep(50);
      expect((await blkfs(['status', mnt])).code).to.equal(0);

      fg.child.kill('SIGINT');
      const r = await fg.result;
      expect(r.code, r.stderr).to.equal(0);
      expect(running(serverPid)).to.equal(false);
      expect(fs.existsSync(path.join(mnt, 'raw')), 'unmounted').to.equal(false);
    } finally {
      if (running(commandPid)) process.kill(commandPid, 'SIGCONT');
      await stopServer(serverPid);
      await fg.result;
    }
  });
});
