// How large the kernel's FUSE read requests to the mount server are. libfuse 2.9 (under fuse-native) cannot ask for
// more than 128 KiB; fuse-max-pages.so (fuse-max-pages.c, built by scripts/build-native.sh), preloaded into the server,
// asks for 1 MiB. It must be in LD_PRELOAD when the process starts, so `blkfs mount` starts its server with it.
import * as fs from 'fs';
import * as path from 'path';

/** The preload library, built beside this module. */
export const MAX_PAGES_SHIM = path.join(__dirname, 'fuse-max-pages.so');

/** The kernel's largest FUSE read request without the shim, and with it. */
export const DEFAULT_REQUEST_BYTES = 128 * 1024;
export const SHIM_REQUEST_BYTES = 1024 * 1024;

/** The libraries LD_PRELOAD names in `env` (ld.so splits it at spaces and colons). */
export function preloads(env: NodeJS.ProcessEnv): string[] {
  return (env.LD_PRELOAD ?? '').split(/[ :]+/).filter((p) => p !== '');
}

/** Whether the shim is loaded in this process (ld.so loaded it: it is mapped). */
export function shimLoaded(): boolean {
  try {
    return fs.readFileSync('/proc/self/maps', 'latin1').includes(MAX_PAGES_SHIM);
  } catch {
    return false;
  }
}

/** `env` for a mount server's process: the shim first in LD_PRELOAD when it was built (else `env` unchanged). */
export function withShim(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const listed = preloads(env);
  if (listed.includes(MAX_PAGES_SHIM) || !fs.existsSync(MAX_PAGES_SHIM)) return env;
  return { ...env, LD_PRELOAD: [MAX_PAGES_SHIM, ...listed].join(':') };
}

/** A running server's children (nbdkit, TSK, cat) have no use for the shim: it leaves their environment. */
export function keepShimFromChildren(env: NodeJS.ProcessEnv = process.env): void {
  const rest = preloads(env).filter((p) => p !== MAX_PAGES_SHIM);
  if (rest.length > 0) env.LD_PRELOAD = rest.join(':');
  else delete env.LD_PRELOAD;
}

/** The mount log's line on it: what a reader of /raw should expect, and why. */
export function requestSizeNote(): string {
  const name = path.basename(MAX_PAGES_SHIM);
  if (shimLoaded()) return `fuse: reads of up to ${SHIM_REQUEST_BYTES / 1024} KiB per request (${name} preloaded)`;
  const why = fs.existsSync(MAX_PAGES_SHIM) ? 'not preloaded into this process' : 'not built: scripts/build-native.sh builds it with a C compiler';
  return `fuse: reads of up to ${DEFAULT_REQUEST_BYTES / 1024} KiB per request (${name} ${why})`;
}
