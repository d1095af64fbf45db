// The libraries preloaded into a mount server (LD_PRELOAD counts only at a process's start, so `blkfs mount` starts
// its server with them): fuse-max-pages.so (1 MiB FUSE reads, request-size.ts) and cpu-placement.so (the request
// path on one CPU, background work on the others). scripts/build-native.sh builds both beside this module; one not
// built (no C compiler) is left out, and the server works without it. Also read only at a process's start: glibc's
// malloc on transparent huge pages (HUGE_PAGE_MALLOC).
import * as fs from 'fs';
import * as path from 'path';
import { MAX_PAGES_SHIM } from './request-size';

export const CPU_PLACEMENT_LIB = path.join(__dirname, 'cpu-placement.so');
const SERVER_PRELOADS = [MAX_PAGES_SHIM, CPU_PLACEMENT_LIB];

/** The libraries LD_PRELOAD names in `env` (ld.so splits it at spaces and colons). */
export function preloads(env: NodeJS.ProcessEnv): string[] {
  return (env.LD_PRELOAD ?? '').split(/[ :]+/).filter((p) => p !== '');
}

/**
 * glibc's malloc asks for transparent huge pages (madvise) for the memory it takes from the kernel (glibc 2.35 and
 * later; older ones ignore it). The server's large buffers (the copying pass's 4 MiB spans, the image hasher's) are
 * fresh memory in each server, and in a VM each 4 KiB page's first touch is a trap to the hypervisor: 48 MiB of
 * fresh 4 KiB pages took 160-220 ms to touch on this project's 2-core VM, 70-150 ms on huge pages. An acquisition of a
 * fresh mount took ~15,000 page faults, ~3,400 with it and the span buffers' slabs (bench/huge-pages.sh). The cost: a
 * huge page is resident whole (peak RSS reading /sbx/image.sbx of 1 GiB: ~165 -> ~175-200 MB). Kept for the
 * server's children: nbdkit takes a buffer per request the same way.
 */
export const HUGE_PAGE_MALLOC = 'glibc.malloc.hugetlb=1';

/** GLIBC_TUNABLES with HUGE_PAGE_MALLOC added, unless it already says what glibc.malloc.hugetlb is (the user's choice). */
function withHugePageMalloc(tunables: string | undefined): string {
  const listed = (tunables ?? '').split(':').filter((t) => t !== '');
  if (listed.some((t) => t.startsWith('glibc.malloc.hugetlb='))) return listed.join(':');
  return [...listed, HUGE_PAGE_MALLOC].join(':');
}

/**
 * `env` for a mount server's process: the built server libraries first in LD_PRELOAD and glibc's malloc on huge pages
 * (else `env` unchanged).
 */
export function withServerPreloads(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const listed = preloads(env);
  const missing = SERVER_PRELOADS.filter((lib) => !listed.includes(lib) && fs.existsSync(lib));
  const tunables = withHugePageMalloc(env.GLIBC_TUNABLES);
  if (missing.length === 0 && tunables === env.GLIBC_TUNABLES) return env;
  return { ...env, ...(missing.length > 0 ? { LD_PRELOAD: [...missing, ...listed].join(':') } : {}), GLIBC_TUNABLES: tunables };
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

/** The mount log's line on glibc's malloc and huge pages in this process (GLIBC_TUNABLES, and the kernel's THP mode). */
export function hugePageNote(env: NodeJS.ProcessEnv = process.env): string {
  let mode = 'unknown';
  try {
    mode = /\[(\w+)\]/.exec(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? mode;
  } catch {
    // no THP in this kernel
  }
  const asked = (env.GLIBC_TUNABLES ?? '').split(':').find((t) => t.startsWith('glibc.malloc.hugetlb='));
  return `memory: ${asked ?? 'glibc.malloc.hugetlb not set'} (GLIBC_TUNABLES), transparent huge pages: ${mode}`;
}
