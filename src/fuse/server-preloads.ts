// The libraries preloaded into a mount server (LD_PRELOAD counts only at a process's start, so `blkfs mount` starts
// its server with them): fuse-max-pages.so (1 MiB FUSE reads, request-size.ts) and cpu-placement.so (the request
// path on one CPU, background work on the others). scripts/build-native.sh builds both beside this module; one not
// built (no C compiler) is left out, and the server works without it.
import * as fs from 'fs';
import * as path from 'path';
import { MAX_PAGES_SHIM } from './request-size';

export const CPU_PLACEMENT_LIB = path.join(__dirname, 'cpu-placement.so');
const SERVER_PRELOADS = [MAX_PAGES_SHIM, CPU_PLACEMENT_LIB];

/** The libraries LD_PRELOAD names in `env` (ld.so splits it at spaces and colons). */
export function preloads(env: NodeJS.ProcessEnv): string[] {
  return (env.LD_PRELOAD ?? '').split(/[ :]+/).filter((p) => p !== '');
}

/** `env` for a mount server's process: the built server libraries first in LD_PRELOAD (else `env` unchanged). */
export function withServerPreloads(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const listed = preloads(env);
  const missing = SERVER_PRELOADS.filter((lib) => !listed.includes(lib) && fs.existsSync(lib));
  if (missing.length === 0) return env;
  return { ...env, LD_PRELOAD: [...missing, ...listed].join(':') };
}

/** A running server's children (nbdkit, TSK, cat) have no use for them: they leave its environment (read
 * cpuPlacementNote() first). */
export function keepPreloadsFromChildren(env: NodeJS.ProcessEnv = process.env): void {
  const rest = preloads(env).filter((p) => !SERVER_PRELOADS.includes(p));
  if (rest.length > 0) env.LD_PRELOAD = rest.join(':');
  else delete env.LD_PRELOAD;
  delete env.BLKFS_CPU_PLACEMENT_APPLIED;
}

/** The mount log's line on where the server's threads run (what cpu-placement.so did, or why it is not loaded). */
export function cpuPlacementNote(env: NodeJS.ProcessEnv = process.env): string {
  const name = path.basename(CPU_PLACEMENT_LIB);
  const applied = env.BLKFS_CPU_PLACEMENT_APPLIED;
  if (applied !== undefined) return `cpu: ${applied} (${name})`;
  const why = fs.existsSync(CPU_PLACEMENT_LIB) ? 'not preloaded into this process' : 'not built: scripts/build-native.sh builds it with a C compiler';
  return `cpu: threads placed by the scheduler (${name} ${why})`;
}
