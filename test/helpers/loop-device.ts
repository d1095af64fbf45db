// Real read-only loop devices as "drives" for media-change tests (see docs/field-notes.md): attach an image,
// swap the "disc" with LOOP_CHANGE_FD (the ioctl read-only loop devices accept), detach. Only devices this
// process attached are ever detached (other agents use loop devices on the same machine: never `losetup -D`).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

const run = promisify(execFile);
const attached = new Set<string>();

/** LOOP_CHANGE_FD (0x4C06): the loop device now reads `image`; LOOP_SET_CAPACITY (0x4C07) re-reads its size. */
const SWAP_PY = [
  'import fcntl,os,sys',
  'ld=os.open(sys.argv[1],os.O_RDONLY)',
  'fcntl.ioctl(ld,0x4C06,os.open(sys.argv[2],os.O_RDONLY))',
  'fcntl.ioctl(ld,0x4C07,0)',
].join('\n');

/** `losetup -r -f --show IMAGE`: a read-only loop device path such as /dev/loop3 (`writable`: without -r, a disk to write). */
export async function attachLoop(image: string, opts: { sectorSize?: number; writable?: boolean } = {}): Promise<string> {
  const args = [...(opts.writable ? [] : ['-r']), '-f', '--show', ...(opts.sectorSize ? ['-b', String(opts.sectorSize)] : []), image];
  const { stdout } = await run('losetup', args);
  const dev = stdout.trim();
  if (!/^\/dev\/loop\d+$/.test(dev)) throw new Error(`losetup printed ${JSON.stringify(stdout)}`);
  attached.add(dev);
  return dev;
}

/** Changes the disc: the loop device reads `image` from now on (as a drive whose disc was swapped). */
export async function swapLoop(dev: string, image: string): Promise<void> {
  if (!attached.has(dev)) throw new Error(`${dev} was not attached by this test`);
  await run('python3', ['-c', SWAP_PY, dev, image]);
}

/** What the kernel says the loop device reads now. */
export function loopBackingFile(dev: string): string {
  return fs.readFileSync(path.join('/sys/block', path.basename(dev), 'loop', 'backing_file'), 'utf8').trim();
}

/** Detaches `dev` if this process attached it (retrying a moment while a closing nbdkit still holds it). */
export async function detachLoop(dev: string): Promise<void> {
  if (!attached.has(dev)) return;
  for (let i = 0; ; i++) {
    try {
      await run('losetup', ['-d', dev]);
      attached.delete(dev);
      return;
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Detaches every loop device this process attached (for after hooks; never throws). */
export async function detachAllLoops(): Promise<void> {
  for (const dev of [...attached]) await detachLoop(dev).catch(() => undefined);
}
