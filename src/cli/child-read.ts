// Reading a file of a blkfs mount through `cat` in a child process. A read the server leaves unanswered can then be
// given up for good: a read on Node's thread pool would hold the command's exit until the server answers (Node joins
// its pool's threads at exit), and a hung server, or one frozen in the kernel, may never answer.
import { spawn } from 'child_process';

export interface ChildRead {
  /** The file's bytes as text; rejects with an error carrying the errno code cat named (ENOTCONN, ENOENT, ...). */
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

export function readInChild(file: string, encoding: BufferEncoding = 'utf8'): ChildRead {
  const child = spawn('cat', ['--', file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } }); // its message is read below
  const out: Buffer[] = [];
  let message = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (message += d));
  const text = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString(encoding)) : reject(catError(message))));
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
