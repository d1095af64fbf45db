// How large the kernel's FUSE read requests to the mount server are. libfuse 2.9 (under fuse-native) cannot ask for
// more than 128 KiB; fuse-max-pages.so (fuse-max-pages.c, built by scripts/build-native.sh), preloaded into the server,
// asks for 1 MiB. It must be in LD_PRELOAD when the process starts, so `blkfs mount` starts its server with it
// (server-preloads.ts).
import * as fs from 'fs';
import * as path from 'path';

/** The preload library, built beside this module. */
export const MAX_PAGES_SHIM = path.join(__dirname, 'fuse-max-pages.so');

/** The kernel's largest FUSE read request without the shim, and with it. */
export const DEFAULT_REQUEST_BYTES = 128 * 1024;
export const SHIM_REQUEST_BYTES = 1024 * 1024;

/** Whether the shim is loaded in this process (ld.so loaded it: it is mapped). */
export function shimLoaded(): boolean {
  try {
    return fs.readFileSync('/proc/self/maps', 'latin1').includes(MAX_PAGES_SHIM);
  } catch {
    return false;
  }
}

/** The mount log's line on it: what a reader of /raw should expect, and why. */
export function requestSizeNote(): string {
  const name = path.basename(MAX_PAGES_SHIM);
  if (shimLoaded()) return `fuse: reads of up to ${SHIM_REQUEST_BYTES / 1024} KiB per request (${name} preloaded)`;
  const why = fs.existsSync(MAX_PAGES_SHIM) ? 'not preloaded into this process' : 'not built: scripts/build-native.sh builds it with a C compiler';
  return `fuse: reads of up to ${DEFAULT_REQUEST_BYTES / 1024} KiB per request (${name} ${why})`;
}
