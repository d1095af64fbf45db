// Which image a GNU ddrescue at work on /mapfile writes: the processes whose command line names /mapfile as their
// mapfile, and their outfile made absolute with their working directory. Only /proc is read (never the mount:
// its server would deadlock waiting for itself). FUSE (through fuse-native) does not tell who opens a file, so
// the opener is the one ddrescue naming this mapfile; with none, or several writing different images, unknown.
import * as path from 'path';
import { readdirSync, realpathSync } from 'fs';
import { readlink, readProcText } from '../proc-fds';

/** ddrescue's short options that take an argument (`-b512` or `-b 512`), from `ddrescue --help` (1.27). */
const SHORT_WITH_ARG = new Set('abceEFHiKmorsTxXZ');
/** Its long options that take one (`--size=N` or `--size N`; arg_parser also accepts a unique prefix). */
const LONG_WITH_ARG = [
  'min-read-rate', 'sector-size', 'cluster-size', 'max-bad-areas', 'max-error-rate', 'fill-mode', 'test-mode',
  'input-position', 'skip-size', 'domain-mapfile', 'output-position', 'retry-passes', 'size', 'timeout',
  'extend-outfile', 'max-read-errors', 'max-read-rate', 'cpass', 'delay-slow', 'log-events', 'log-rates',
  'log-reads', 'mapfile-interval', 'max-slow-reads', 'pause-on-error', 'pause-on-pass',
];

/** ddrescue's operands (infile outfile [mapfile]) from its arguments, options anywhere. */
export function ddrescueOperands(args: readonly string[]): string[] {
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (!name.includes('=') && LONG_WITH_ARG.some((o) => o === name || (o.startsWith(name) && name.length > 0))) i++;
    } else if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        if (!SHORT_WITH_ARG.has(a[k])) continue;
        if (k === a.length - 1) i++; // its argument is the next one
        break;
      }
    } else operands.push(a);
  }
  return operands;
}

/**
 * What ddrescueOutfileOf answers when ddrescues writing different images share the mapfile: the opener's image is
 * not known, and neither is the one a map it saves describes. Never an absolute path, so never a real outfile.
 */
export const SEVERAL_IMAGES = '(several ddrescue images)';

/**
 * The absolute outfile of the ddrescue processes whose mapfile is `mapfile` (an absolute path), when they all
 * write one image; SEVERAL_IMAGES when they write different ones; undefined when none runs.
 */
export function ddrescueOutfileOf(mapfile: string): string | undefined {
  const found = new Set<string>();
  const mapfileNames = namesOf(mapfile);
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    // comm first: reading a command line takes the process's memory lock, which a process faulting on a mapping
    // of this very mount holds while it waits for us; ddrescue maps nothing of it.
    if (readProcText(`/proc/${name}/comm`).trim() !== 'ddrescue') continue;
    const argv = readProcText(`/proc/${name}/cmdline`).split('\0');
    if (argv[argv.length - 1] === '') argv.pop();
    if (argv.length === 0 || path.basename(argv[0]) !== 'ddrescue') continue;
    const cwd = readlink(`/proc/${name}/cwd`);
    if (cwd === undefined) continue;
    const ops = ddrescueOperands(argv.slice(1));
    if (ops.length !== 3 || !mapfileNames.has(path.resolve(cwd, ops[2]))) continue;
    found.add(path.resolve(cwd, ops[1]));
  }
  return found.size > 1 ? SEVERAL_IMAGES : found.size === 1 ? [...found][0] : undefined;
}

/**
 * The paths naming `mapfile`: as given, and through the real path of the mount's parent directory (a process's
 * cwd is a real path). Only the parent is resolved: resolving the mount itself from its own server deadlocks.
 */
function namesOf(mapfile: string): Set<string> {
  const abs = path.resolve(mapfile);
  const names = new Set([abs]);
  const mount = path.dirname(abs);
  try {
    names.add(path.join(realpathSync(path.dirname(mount)), path.basename(mount), path.basename(abs)));
  } catch {
    // the parent is gone: the path as given
  }
  return names;
}
