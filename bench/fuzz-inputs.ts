/**
 * Mutation fuzzer for every parser of user-supplied input (rule 4): runs the real CLI as a child process on
 * mutated SBX containers, ddrescue mapfiles and option values in a temp dir, one run at a time, and prints each
 * distinct finding once (a signature: what went wrong + the message with its numbers blanked).
 *
 * Flags: an exit code other than 0/1/2, a signal, a hang (--timeout), a JS stack trace or TypeError/RangeError/
 * "undefined"/NaN in the output, an error nobody classified (fuzz-preload.ts), an exit-1 mapfile message without
 * a line number, an input file changed, an output left under its final name (or a .blkfs-partial) after a failure.
 * The mount target writes and truncates a live mount's /mapfile: anything but success or EINVAL, a /mapfile or
 * /status that no longer reads, or an error or stack trace in the mount's log is a finding.
 *
 * Usage: node dist/bench/fuzz-inputs.js [--seed N] [--iterations N] [--duration S] [--timeout MS] [--findings DIR]
 *                                       [--targets sbx,opts,map,files,import,mount] (repeat a target to weight it) [--pause MS]
 * Ctrl-C ends the run in progress and prints the summary.
 * Each finding's input and command line are saved under --findings (default: a new temp dir) to reproduce it.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseMapfile } from '../src/cache/mapfile';
import { chance, int, mutateContainer, mutateMapfile, oddNumber, pick, seedRandom } from './fuzz-mutations';

const REPO = path.resolve(__dirname, '..', '..');
const MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const PRELOAD = path.join(REPO, 'dist', 'bench', 'fuzz-preload.js');
const VECTORS = '/work/shared/vectors';

// ---- arguments --------------------------------------------------------------------------------------------------

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const SEED = Number(arg('seed', String(Date.now() % 1e9)));
seedRandom(SEED);
const ITERATIONS = Number(arg('iterations', '500'));
const TIMEOUT_MS = Number(arg('timeout', '30000'));
const PAUSE_MS = Number(arg('pause', '0'));
const DURATION_S = Number(arg('duration', '0')); // stop after this many seconds (0: after --iterations)
const TARGETS = arg('targets', 'sbx,opts,map,files').split(',');


// ---- seeds ------------------------------------------------------------------------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-fuzz-'));
const findingsDir = process.argv.includes('--findings') ? arg('findings', '') : fs.mkdtempSync(path.join(os.tmpdir(), 'blkfs-fuzz-findings-'));
fs.mkdirSync(findingsDir, { recursive: true });

function cli(args: string[], cwd: string): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, ['-r', PRELOAD, MAIN, ...args], {
    cwd,
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
    env: { ...process.env, TZ: 'UTC', NO_COLOR: '1' },
  });
}

function containerSeeds(): Buffer[] {
  const seeds: Buffer[] = [];
  for (const f of fs.readdirSync(VECTORS).sort()) {
    if (!/\.(sbx|ecsbx)$/.test(f)) continue;
    if (fs.statSync(path.join(VECTORS, f)).size > 120_000) continue;
    seeds.push(fs.readFileSync(path.join(VECTORS, f)));
  }
  const input = path.join(work, 'seed-input.bin');
  const bytes = Buffer.alloc(3000);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  fs.writeFileSync(input, bytes);
  const encodings = [
    ['--sbx-version', '1'], ['--sbx-version', '2', '--no-meta'], ['--sbx-version', '3'],
    ['--sbx-version', '17', '--rs-data', '3', '--rs-parity', '2', '--burst', '1'],
    ['--sbx-version', '18', '--rs-data', '2', '--rs-parity', '1', '--burst', '0', '--hash', 'blake2s-128'],
    ['--sbx-version', '19', '--rs-data', '1', '--rs-parity', '1', '--burst', '2'],
    ['--sbx-version', '17', '--rs-data', '4', '--rs-parity', '4', '--burst', '3', '--hash', 'sha1'],
    ['--sbx-version', '18', '--rs-data', '5', '--rs-parity', '2', '--burst', '7', '--hash', 'sha1', '--from', '100', '--to-exc', '2500'],
  ];
  encodings.forEach((opts, i) => {
    const out = path.join(work, `seed-${i}.sbx`);
    const r = cli(['sbx', 'encode', '--pv', '0', '--uid', `00000000000${i}`, ...opts, input, out], work);
    if (r.status !== 0) throw new Error(`seed encode ${opts.join(' ')} failed: ${r.stderr}${r.stdout}`);
    seeds.push(fs.readFileSync(out));
  });
  return seeds;
}

const MAPFILE_SEEDS = [
  `# Mapfile. Created by GNU ddrescue version 1.27
# Command line: ddrescue -b 2048 /dev/sr0 disc.img disc.map
# Start time:   2024-01-01 00:00:00
# Current time: 2024-01-01 00:10:00
# Finished
# current_pos  current_status  current_pass
0x00000000     +               1
#      pos        size  status
0x00000000  0x00010000  +
0x00010000  0x00000800  -
0x00010800  0x00001000  /
0x00011800  0x00002000  *
0x00013800  0x0000C800  ?
`,
  `# Rescue Logfile. Created by GNU ddrescue version 1.19
# current_pos  current_status
0x00004000     ?
#      pos        size  status
0x00000000  0x00004000  +
0x00004000  0x0001C000  ?
`,
  `0 +\n0 0x20000 +\n`,
  `# blkfs mapfile, sector size 512
0x00000200     /               2
0x00000000  0x00000200  +
0x00000200  0x00000400  F
0x00000600  0x00000200  G
0x00000800  0x0001F800  +
`,
];

// A small FAT image for `files IMAGE MAPFILE` (its layout is read by TSK).
function fatImage(): string | undefined {
  const img = path.join(work, 'fat.img');
  if (spawnSync('mkfs.fat', ['-C', '-n', 'FUZZ', img, '128']).status !== 0) return undefined;
  fs.writeFileSync(path.join(work, 'hello.txt'), 'hello fuzz\n'.repeat(300));
  if (spawnSync('mcopy', ['-i', img, path.join(work, 'hello.txt'), '::/HELLO.TXT']).status !== 0) return undefined;
  return img;
}

// ---- cases ------------------------------------------------------------------------------------------------------

interface Case {
  label: string;
  args: string[];
  /** Files to create in the run dir: name → bytes. */
  files: Record<string, Buffer>;
  /** Files that must be byte-identical afterwards. */
  unchanged: string[];
  /** Outputs that must not exist under this name if the run fails (they did not exist before). */
  outputs: string[];
  /** A malformed mapfile was given: an exit-1 message must name a line. */
  mapfile?: boolean;
  ops: string[];
}

function sbxCase(seeds: Buffer[]): Case {
  const { bytes, ops } = mutateContainer(seeds);
  const c = 'c.sbx';
  const common = (): string[] => [...(chance(0.2) ? ['--json'] : []), '--pv', '0'];
  const files = { [c]: bytes };
  const cmd = pick(['show', 'show', 'check', 'check', 'decode', 'decode', 'repair', 'repair', 'rescue', 'sort', 'sort', 'update', 'update']);
  const base = (args: string[], extra: Partial<Case> = {}): Case => ({
    label: `sbx ${cmd}`, args: ['sbx', cmd, ...args], files, unchanged: [c], outputs: [], ops, ...extra,
  });
  switch (cmd) {
    case 'show': return base([...common(), ...pick([[], ['--show-all'], ['--guess-burst'], ['--show-all', '--guess-burst']]), c]);
    case 'check': return base([...common(), ...pick([[], ['--hash'], ['--hash-only'], ['--report-blank'], ['--no-meta'], ['-v']]), c]);
    case 'decode': {
      const outName = pick(['out.bin', '-', 'outdir']);
      const extra = pick([[], ['--no-meta'], ['-v'], ['--multi-pass']]);
      return base([...common(), ...extra, c, outName], { outputs: outName === 'out.bin' ? ['out.bin'] : [] });
    }
    case 'repair': {
      const dry = chance(0.4);
      return base([...common(), ...(dry ? ['--dry-run'] : ['-y']), ...pick([[], ['-v']]), c], { unchanged: dry ? [c] : [] });
    }
    case 'rescue': return base([...common(), ...pick([[], ['--only-pick-block', 'meta'], ['--only-pick-block', 'data']]), c, 'resc', ...pick([[], ['resc.log']])]);
    case 'sort': {
      const dry = chance(0.3);
      return base([...common(), ...(dry ? ['--dry-run'] : []), ...pick([[], ['--report-blank'], ['-v']]), c, 'sorted.sbx'], { outputs: dry ? [] : ['sorted.sbx'] });
    }
    default: {
      const dry = chance(0.4);
      const edit = pick([['--fnm', 'new.bin'], ['--no-fnm'], ['--snm', 'x'.repeat(int(600))], ['--no-hsh'], ['--hash', 'sha1'], ['--fnm', '../up']]);
      return base([...common(), ...(dry ? ['--dry-run'] : ['-y']), ...edit, c], { unchanged: dry ? [c] : [] });
    }
  }
}

/** Odd option values on good and damaged containers (byte positions, burst levels, UIDs, calc sizes). */
function optsCase(seeds: Buffer[]): Case {
  const c = 'c.sbx';
  const bytes = chance(0.7) ? Buffer.from(pick(seeds)) : mutateContainer(seeds).bytes;
  const files = { [c]: bytes, 'in.bin': Buffer.alloc(int(3000), 7) };
  const posOpt = (): string[] => {
    const o: string[] = [];
    for (let i = 0, n = 1 + int(3); i < n; i++) o.push(pick(['--from', '--to-inc', '--to-exc', '--ref-from', '--ref-to-inc', '--ref-to-exc', '--guess-burst-from', '--burst', '--pv']), oddNumber());
    if (chance(0.3)) o.push('--force-misalign');
    return o;
  };
  const variant = int(7);
  const label = ['calc', 'encode', 'show', 'check', 'decode', 'sort', 'rescue'][variant];
  const ok = (args: string[], extra: Partial<Case> = {}): Case => ({ label: `opts ${label}`, args, files, unchanged: [c, 'in.bin'], outputs: [], ops: ['opts'], ...extra });
  switch (variant) {
    case 0: return ok(['sbx', 'calc', oddNumber(), ...pick([[], ['--sbx-version', oddNumber()], ['--rs-data', oddNumber(), '--rs-parity', oddNumber(), '--sbx-version', '17'], ['--burst', oddNumber(), '--sbx-version', '18']]), ...pick([[], ['--json']])]);
    case 1: return ok(['sbx', 'encode', '--pv', '0', ...pick([['--sbx-version', oddNumber()], ['--sbx-version', pick(['17', '18', '19']), '--rs-data', oddNumber(), '--rs-parity', oddNumber(), '--burst', oddNumber()], ['--uid', pick(['', '0', 'zzzzzzzzzzzz', '0123456789ab', '0123456789abc', ' 0123456789a'])], ['--hash', pick(['md5', 'SHA256', '', 'sha2-512-256'])], ['--from', oddNumber(), '--to-inc', oddNumber()], ['--to-exc', oddNumber()]]), 'in.bin', 'enc.sbx'], { outputs: ['enc.sbx'] });
    case 2: return ok(['sbx', 'show', '--pv', '0', ...posOpt(), ...pick([[], ['--only-pick-uid', pick(['', 'xyz', '000000000001', '0000000000000'])]]), c]);
    case 3: return ok(['sbx', 'check', '--pv', '0', ...posOpt(), c]);
    case 4: return ok(['sbx', 'decode', '--pv', '0', ...posOpt(), c, 'out.bin'], { outputs: ['out.bin'] });
    case 5: return ok(['sbx', 'sort', '--pv', '0', ...posOpt(), c, 'sorted.sbx'], { outputs: ['sorted.sbx'] });
    default: return ok(['sbx', 'rescue', '--pv', '0', ...posOpt(), ...pick([[], ['--only-pick-block', pick(['x', '', 'META'])], ['--only-pick-uid', pick(['', 'g00000000000'])]]), c, 'resc']);
  }
}

function mapCase(): Case {
  const { bytes, ops } = mutateMapfile(pick(MAPFILE_SEEDS));
  const out = pick(['out.png', 'out.svg']);
  const opts = chance(0.2) ? pick([['--width', oddNumber()], ['--cells', oddNumber()], ['--sector-size', oddNumber()]]) : [];
  return { label: 'map', args: ['map', 'm.map', '-o', out, ...opts], files: { 'm.map': bytes }, unchanged: ['m.map'], outputs: [out], mapfile: opts.length === 0, ops };
}

function filesCase(img: string): Case {
  const { bytes, ops } = mutateMapfile(pick(MAPFILE_SEEDS));
  return { label: 'files', args: ['files', img, 'm.map', ...pick([[], ['--json'], ['--csv'], ['--damaged']])], files: { 'm.map': bytes }, unchanged: ['m.map', img], outputs: [], mapfile: true, ops };
}

/** A cache of a 256 KiB medium (half of it '+'), made once with `import --source`; each import case seeds a copy. */
function importBase(): { cache: string; medium: string } | undefined {
  const medium = path.join(work, 'import-medium.img');
  const bytes = Buffer.alloc(256 << 10);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
  fs.writeFileSync(medium, bytes);
  const map = path.join(work, 'import-seed.map');
  fs.writeFileSync(map, '0 +\n0 0x20000 +\n0x20000 0x20000 ?\n');
  const cache = path.join(work, 'import-cache');
  const r = cli(['import', '--source', medium, '--cache', cache, medium, map], work);
  if (r.status !== 0) {
    process.stdout.write(`import target skipped: ${r.stderr}\n`);
    return undefined;
  }
  return { cache, medium };
}

function importCase(base: { cache: string; medium: string }): Case {
  const { bytes, ops } = mutateMapfile(pick(MAPFILE_SEEDS));
  const image = fs.readFileSync(base.medium);
  const files: Record<string, Buffer> = { 'm.map': bytes, 'image.img': chance(0.3) ? image.subarray(0, int(image.length)) : image };
  for (const f of fs.readdirSync(base.cache)) if (fs.statSync(path.join(base.cache, f)).isFile()) files[`cache/${f}`] = fs.readFileSync(path.join(base.cache, f));
  return { label: 'import', args: ['import', '--cache', 'cache', 'image.img', 'm.map'], files, unchanged: ['m.map', 'image.img'], outputs: [], mapfile: true, ops };
}

// ---- judging ----------------------------------------------------------------------------------------------------

const STACK = /\n\s+at [^\n]*(\(|:\d+:\d+)/;
const BAD_WORDS = /TypeError|RangeError|is out of range|The value of "|Cannot create a string|ReferenceError|SyntaxError|\bundefined\b|\bNaN\b|ERR_[A-Z_]+|Cannot read propert|is not a function|Maximum call stack|Invalid array length|FUZZ-UNCLASSIFIED/;

function sha(file: string): string | undefined {
  return fs.existsSync(file) && fs.statSync(file).isFile() ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : undefined;
}

function normalise(text: string, dir: string): string {
  return text.split(dir).join('DIR').replace(/0x[0-9a-f]+/gi, 'H').replace(/\d+/g, 'N').replace(/\s+/g, ' ').trim().slice(0, 160);
}

/** Every distinct failure message (numbers blanked), to read for the ones without a position. */
const messages = new Map<string, number>();

function judge(k: Case, dir: string): string[] {
  const before = new Map(k.unchanged.map((f) => [f, sha(path.resolve(dir, f))]));
  const r = cli(k.args, dir);
  const out = `${r.stdout?.toString('latin1') ?? ''}\n${r.stderr?.toString('latin1') ?? ''}`;
  const problems: string[] = [];
  const err = r.error as NodeJS.ErrnoException | undefined;
  if (err?.code === 'ETIMEDOUT' || (r.signal === 'SIGKILL' && r.status === null)) problems.push(`hang (> ${TIMEOUT_MS} ms)`);
  else if (r.signal) problems.push(`signal ${r.signal}`);
  else if (r.status !== 0 && r.status !== 1 && r.status !== 2) problems.push(`exit ${r.status}`);
  // The stored file name and option values are echoed back on purpose; blank our own inputs before looking.
  const scrubbed = out.replace(/--[a-z-]+ \S+/g, '').replace(/argument '[^\n]*' is invalid/g, 'argument is invalid');
  if (STACK.test(scrubbed)) problems.push(`stack trace: ${normalise(scrubbed.match(/[^\n]*\n\s+at [^\n]*/)?.[0] ?? '', dir)}`);
  const bad = scrubbed.split('\n').find((l) => BAD_WORDS.test(l));
  if (bad) problems.push(`bad words: ${normalise(bad, dir)}`);
  if (k.mapfile && r.status === 1) {
    const msg = out.split('\n').filter((l) => l.startsWith('blkfs:') || /error/i.test(l)).join(' ');
    // A well-formed map of nothing has no line to name.
    if (!/line \d+|byte \d+|position|describes no bytes|block 0x[0-9a-f]+|bytes up to \d+/i.test(msg)) problems.push(`mapfile message without a position: ${normalise(msg || out, dir)}`);
  }
  for (const [f, h] of before) if (h !== undefined && sha(path.resolve(dir, f)) !== h) problems.push(`input ${f} changed (exit ${r.status})`);
  if (r.status !== 0) {
    for (const o of k.outputs) if (fs.existsSync(path.join(dir, o))) problems.push(`output ${o} left after exit ${r.status}`);
  }
  for (const f of fs.readdirSync(dir)) if (/\.blkfs-partial(\.\d+)?$/.test(f)) problems.push(`partial file left: ${f} (exit ${r.status})`);
  if (fs.existsSync(path.join(path.dirname(dir), 'escape.bin')) || fs.existsSync(path.join(path.dirname(dir), 'up'))) problems.push('file written outside the output directory');
  if (r.status !== 0) {
    // --json prints the error as a JSON object over several lines: its "error" line says what the message is.
    const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^\{"(units|header)/.test(l));
    const last = lines.find((l) => l.startsWith('"error"')) ?? lines.pop() ?? '';
    const key = `[${k.label}] exit ${r.status}: ${normalise(last, dir)}`;
    messages.set(key, (messages.get(key) ?? 0) + 1);
  }
  return problems.map((p) => `[${k.label}] ${p}`);
}

// ---- a mount's /mapfile -----------------------------------------------------------------------------------------

interface Mount {
  mnt: string;
  log: string;
  logSeen: number;
}

/** One mount for the whole run (a 256 KiB medium): each case writes or truncates its /mapfile. */
function startMount(): Mount | undefined {
  const medium = path.join(work, 'medium.img');
  const bytes = Buffer.alloc(256 << 10);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
  fs.writeFileSync(medium, bytes);
  const mnt = path.join(work, 'mnt');
  const cache = path.join(work, 'cache');
  fs.mkdirSync(mnt);
  const r = cli(['mount', medium, mnt, '--cache', cache, '--readahead', '0'], work);
  if (r.status !== 0) {
    process.stdout.write(`mount target skipped: mount failed: ${r.stderr}\n`);
    return undefined;
  }
  return { mnt, log: path.join(cache, 'mount.log'), logSeen: 0 };
}

function stopMount(m: Mount | undefined): void {
  if (m) cli(['umount', m.mnt], work);
}

function mountCase(m: Mount): { problems: string[]; input: Buffer; what: string } {
  const file = path.join(m.mnt, 'mapfile');
  let seed: string;
  try {
    seed = chance(0.5) ? fs.readFileSync(file, 'latin1') : pick(MAPFILE_SEEDS);
  } catch (err) {
    return { problems: [`[mount] /mapfile unreadable: ${(err as NodeJS.ErrnoException).code}`], input: Buffer.alloc(0), what: 'read' };
  }
  const { bytes } = mutateMapfile(seed);
  const problems: string[] = [];
  let what = 'write';
  let code = 'ok';
  try {
    const op = int(10);
    if (op === 0) {
      what = 'truncate';
      fs.truncateSync(file, pick([0, 1, 100, 64 << 20, (64 << 20) + 1, 2 ** 31, 5 * 2 ** 30, 2 ** 40]));
    } else if (op === 1) {
      what = 'write at an offset';
      const fd = fs.openSync(file, 'r+');
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, pick([0, 1, 4096, 64 << 20, 2 ** 32, 2 ** 40]));
      } finally {
        fs.closeSync(fd);
      }
    } else fs.writeFileSync(file, bytes);
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code ?? String(err);
  }
  if (code !== 'ok' && code !== 'EINVAL') problems.push(`[mount] ${what} of /mapfile: ${code}`);
  try {
    parseMapfile(fs.readFileSync(file, 'latin1'));
    JSON.parse(fs.readFileSync(path.join(m.mnt, 'status'), 'utf8'));
  } catch (err) {
    problems.push(`[mount] /mapfile or /status unreadable after a ${what}: ${(err as Error).message.slice(0, 120)}`);
  }
  const log = fs.readFileSync(m.log, 'latin1');
  const fresh = log.slice(m.logSeen);
  m.logSeen = log.length;
  let stack = false; // one finding per stack trace: its first frame
  for (const line of fresh.split('\n')) {
    const frame = /^\s+at /.test(line);
    if (/ERROR/.test(line) && !/mapfile write refused: Error in mapfile, line \d+/.test(line)) problems.push(`[mount] log: ${normalise(line.replace(/^\S+ blkfs\[\d+\] /, ''), work)}`);
    else if ((frame && !stack) || (!frame && BAD_WORDS.test(line))) problems.push(`[mount] log: ${normalise(line, work)}`);
    stack = frame;
  }
  return { problems, input: bytes, what };
}

// ---- main -------------------------------------------------------------------------------------------------------

/** Counts each problem; the first time one is seen, keeps its input files and how to run it again, and says so. */
function keepFindings(seen: Map<string, number>, problems: string[], files: Record<string, Buffer>, repro: string, label: string): void {
  for (const p of problems) {
    const count = (seen.get(p) ?? 0) + 1;
    seen.set(p, count);
    if (count > 1) continue;
    const keep = path.join(findingsDir, `finding-${seen.size}`);
    for (const [name, bytes] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(keep, name)), { recursive: true });
      fs.writeFileSync(path.join(keep, name), bytes);
    }
    fs.mkdirSync(keep, { recursive: true });
    fs.writeFileSync(path.join(keep, 'repro.txt'), `${p}\n${repro}\n`);
    process.stdout.write(`FINDING ${seen.size} (${label}): ${p}\n  -> ${keep}\n`);
  }
}

async function main(): Promise<void> {
  process.stdout.write(`fuzz-inputs: seed ${SEED}, ${ITERATIONS} iterations, targets ${TARGETS.join(',')}, findings in ${findingsDir}\n`);
  const seeds = TARGETS.some((t) => t === 'sbx' || t === 'opts') ? containerSeeds() : [];
  const img = TARGETS.includes('files') ? fatImage() : undefined;
  const imports = TARGETS.includes('import') ? importBase() : undefined;
  const mount = TARGETS.includes('mount') ? startMount() : undefined;
  let interrupted = false;
  process.on('SIGINT', () => (interrupted = true)); // the run in progress ends, then the summary is printed
  const seen = new Map<string, number>();
  const started = Date.now();
  let runs = 0;
  for (let i = 0; i < ITERATIONS && !interrupted && !(DURATION_S > 0 && Date.now() - started > DURATION_S * 1000); i++) {
    const target = pick(TARGETS);
    if (target === 'mount') {
      if (!mount) continue;
      const { problems, input, what } = mountCase(mount);
      runs++;
      keepFindings(seen, problems, { 'm.map': input }, `iteration ${i}: ${what} of m.map into a mount's /mapfile`, `iteration ${i}, ${what}`);
      await new Promise(setImmediate);
      continue;
    }
    const k =
      target === 'sbx' ? sbxCase(seeds)
      : target === 'opts' ? optsCase(seeds)
      : target === 'import' && imports ? importCase(imports)
      : target === 'files' && img ? filesCase(img)
      : mapCase();
    const dir = fs.mkdtempSync(path.join(work, 'run-'));
    for (const [name, bytes] of Object.entries(k.files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), bytes);
    }
    fs.mkdirSync(path.join(dir, 'resc'));
    fs.mkdirSync(path.join(dir, 'outdir'));
    const problems = judge(k, dir);
    if (interrupted) break; // a Ctrl-C from a terminal reached the run too: its outcome says nothing
    runs++;
    const repro = `iteration ${i} ops ${k.ops.join(',')}\nblkfs ${k.args.map((a) => JSON.stringify(a)).join(' ')}`;
    keepFindings(seen, problems, k.files, repro, `iteration ${i}, ${k.ops.join(',')}`);
    fs.rmSync(dir, { recursive: true, force: true });
    // The runs are synchronous: a turn of the event loop lets a Ctrl-C (SIGINT handler) be seen.
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    if ((i + 1) % 100 === 0) process.stdout.write(`.. ${i + 1} runs, ${seen.size} distinct findings, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  }
  stopMount(mount);
  fs.rmSync(work, { recursive: true, force: true });
  process.stdout.write(`done: ${runs} runs in ${((Date.now() - started) / 1000).toFixed(0)} s, ${seen.size} distinct findings\n`);
  for (const [p, n] of seen) process.stdout.write(`  ${n}x ${p}\n`);
  process.stdout.write(`failure messages (${messages.size} distinct):\n`);
  for (const [m, n] of [...messages].sort()) process.stdout.write(`  ${n}x ${m}\n`);
}

void main();
