// Reading from a blkfs mount in a child process, which can be given up for good: a read on Node's thread pool would
// hold the command's exit until the server answers (Node joins its pool's threads at exit), and a hung server, one
// frozen in the kernel, or a directory the kernel holds for a lookup that waits for the medium may never answer.
import { spawn } from 'child_process';
import { cLocaleEnv } from '../clean-spawn';

export interface ChildRead {
  /** The child's output as text; rejects with the error `failure` makes of its messages when it fails. */
  text: Promise<string>;
  /** Gives the read up: the child is killed and nothing waits for it (it ends once the kernel lets it). */
  abandon(): void;
}

/** The strerror texts (C locale) of the errors callers tell apart. */
const ERRNO_OF: Record<string, string> = {
  'Transport endpoint is not connected': 'ENOTCONN',
  'No such file or directory': 'ENOENT',
  'Permission denied': 'EACCES',
  'Input/output error': 'EIO',
  'Is a directory': 'EISDIR',
};

/** A file of the mount, through `cat`; a failure carries the errno code cat named (ENOTCONN, ENOENT, ...). */
export function readInChild(file: string, encoding: BufferEncoding = 'utf8'): ChildRead {
  return outputOf('cat', ['--', file], encoding, catError);
}

/** The standard output of `command` (run in the C locale: its messages are read by `failure`). */
export function outputOf(command: string, args: readonly string[], encoding: BufferEncoding = 'utf8', failure: (stderr: string) => Error = (m) => new Error(m.trim() || `${command} failed`)): ChildRead {
  const child = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cLocaleEnv() });
  const out: Buffer[] = [];
  let message = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (message += d));
  const text = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString(encoding)) : reject(failure(message))));
  });
  return {
    text,
    abandon: () => {
      child.kill('SIGKILL');
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
    },
  };
}

/** cat's message as the error fs would have thrown: the strerror text (after cat's "cat: NAME: "), and its errno code. */
function catError(stderr: string): NodeJS.ErrnoException {
  const line = stderr.trim().split('\n')[0];
  const reason = line.slice(line.lastIndexOf(': ') + 2) || 'cat failed';
  const err: NodeJS.ErrnoException = new Error(reason);
  if (ERRNO_OF[reason]) err.code = ERRNO_OF[reason];
  return err;
}
