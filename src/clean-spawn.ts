// Child processes of a FUSE server must not inherit its /dev/fuse descriptor (libfuse opens it without
// O_CLOEXEC, and Node closes nothing on spawn): a child that outlives a killed server (TSK still reading /raw)
// would keep the FUSE connection alive with nobody answering it, and every access to the mount, `blkfs umount`
// included, would hang instead of failing with ENOTCONN. And a child whose messages we match runs in the C locale.
// Imports nothing of ours, so every layer may use it.
import * as fs from 'fs';

/** Descriptors of this process open on /dev/fuse. */
export function fuseDeviceFds(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const n of names) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${n}`) === '/dev/fuse') out.push(Number(n));
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/**
 * The command and arguments to spawn so that `cmd` starts without this process's /dev/fuse descriptors: through
 * `bash -c 'exec N<&-; exec "$0" "$@"'` (same pid: bash execs the command) when there are any, else unchanged.
 * A command that does not exist then ends with exit code 127 instead of a spawn ENOENT error.
 */
export function withoutFuseFds(cmd: string, args: readonly string[]): { command: string; args: string[]; wrapped: boolean } {
  const fds = fuseDeviceFds();
  if (fds.length === 0) return { command: cmd, args: [...args], wrapped: false };
  const close = fds.map((fd) => `exec ${fd}<&-;`).join(' ');
  // bash, not sh: dash only takes single-digit descriptors in redirections.
  return { command: '/bin/bash', args: ['-c', `${close} exec "$0" "$@"`, cmd, ...args], wrapped: true };
}

/** The environment for a child whose messages are matched ("busy", "No medium found", strerror texts): the C locale, whatever the user's. */
export function cLocaleEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C' };
}
