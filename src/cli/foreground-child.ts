// `blkfs mount -f` started without the server's preload libraries (server-preloads.ts; LD_PRELOAD counts only at a
// process's start: a shell starts the command without them) runs its server in a child that has them. That child
// must behave as the command would: output where the command's goes, signals passed on, the child's exit status the
// command's own, and no server outliving the command, even one killed with SIGKILL (exit-with-parent.c, preloaded
// into the child too).
import * as fs from 'fs';
import * as path from 'path';
import { preloads } from '../fuse/server-preloads';

/** The preload library that ties the child to this process (scripts/build-native.sh builds it beside this module). */
export const EXIT_WITH_PARENT = path.join(__dirname, 'exit-with-parent.so');

/** Whether -f may serve in a child: only when the child can be tied to the command (an older build may lack the library). */
export function canServeInChild(): boolean {
  return fs.existsSync(EXIT_WITH_PARENT);
}

/**
 * Runs this command again (`args`) in a child with `env`, tied to this process. The child has its own process
 * group, so a Ctrl-C reaches it once, passed on from here like any SIGINT, SIGTERM or SIGHUP sent to this process;
 * Ctrl-Z (SIGTSTP) and fg (SIGCONT) are passed on as well. Exits with the child's status.
 */
export async function foregroundChild(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { spawn } = await import('child_process');
  const os = await import('os');
  const preload = [EXIT_WITH_PARENT, ...preloads(env)].join(':');
  const childEnv = { ...env, LD_PRELOAD: preload, BLKFS_EXIT_WITH_PARENT: String(process.pid) };
  const child = spawn(process.execPath, [...process.execArgv, path.join(__dirname, 'main.js'), ...args], { stdio: 'inherit', env: childEnv, detached: true });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  // Job control: Ctrl-Z stops the server too, as it did when the command was the server; fg (SIGCONT) resumes both.
  process.on('SIGTSTP', () => {
    child.kill('SIGSTOP');
    process.kill(process.pid, 'SIGSTOP');
  });
  process.on('SIGCONT', () => child.kill('SIGCONT'));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  });
  process.exit(code ?? 128 + (signal ? os.constants.signals[signal] : 0));
}
