// What each blkfs command but `sbx` accepts (names, arguments, options, help), cheap to load: every command line
// reads all of it (for --help, and to find the command). What a command does is in its own file (mount.ts,
// acquire.ts, …), loaded only when that command runs. The blkar toolkit's definitions are in sbx/index.ts.
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_READAHEAD_BYTES, MAX_READAHEAD_BYTES, MIN_READAHEAD_BYTES } from '../cache/readahead-limits'; // no imports
import { LOG_LEVELS } from '../server/log';
import { addArchiveOptions } from './archive-options';
import { parseBlockSize } from './block-size-option';
import { collectNbdkitFilterArg } from './nbdkit-filter-option'; // commander only

/** An action whose code is loaded when it runs, not when the command line is defined (sbx/index.ts uses it too). */
export function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => Promise<void>>): (...args: A) => Promise<void> {
  return async (...args: A) => (await load())(...args);
}

/** The mount-side commands: mount, umount, acquire, import, export, archive, verify, files. */
export function registerMountCommands(program: Command): void {
  defineMount(program);
  addArchiveOptions(program.commands.find((c) => c.name() === 'mount') as Command);
  defineUmount(program);
  defineAcquire(program);
  defineImport(program);
  defineExport(program);
  defineArchive(program);
  defineVerify(program);
  defineFiles(program);
}

function defineMount(program: Command): void {
  program
    .command('mount')
    .description('mount SOURCE (block device, image file, nbd:// or nbd+unix:// URI) on MOUNTPOINT with /raw, /mapfile (writable: ddrescue can drive the rescue), /status, /map.png, /map.svg, /files.txt|json|csv, /checksums, /sbx/, /rescued/')
    .argument('<source>', 'block device, image file or NBD URI')
    .argument('<mountpoint>', 'empty directory')
    .option('--cache <dir>', 'cache directory (default: one per medium under $XDG_CACHE_HOME/blkfs/)')
    .option('--block-size <n>', 'sector size in bytes (default: detected: the minimum block size of an NBD export, else 2048 for CD/DVD, 512 otherwise)', parseBlockSize)
    .option('--retries <n>', 'read bad sectors again up to N times when asked again', parseCount('--retries', 0))
    .option(
      '--readahead <size>',
      `prefetch up to SIZE ahead of a sequential reader, stopping at the first error or slow read (64K to 32M, default ${DEFAULT_READAHEAD_BYTES >> 20}M; 0: read only what is asked)`,
      parseReadahead,
    )
    .option('-f, --foreground', 'stay in the foreground until unmounted (Ctrl-C unmounts)')
    .option(
      '--nbdkit-filter <arg>',
      'nbdkit filter name, or key=value parameter for one (repeatable; outermost filter first)',
      collectNbdkitFilterArg,
      [] as string[],
    )
    .option('--dat <file>', 'Logiqx XML DAT (redump, No-Intro): /checksums and /status name the matching entry once the image is complete')
    .option('--allow-other', 'let other users read the mount (needs root, or user_allow_other in /etc/fuse.conf); /mapfile stays writable by you alone')
    .option('--http <host:port>', 'serve a read-only web page of the rescue (e.g. 127.0.0.1:8080; port 0 picks one, see blkfs status)')
    .addOption(new Option('--log-level <level>', 'mount log detail').choices([...LOG_LEVELS]).default('info'))
    .option('--slow-read <ms>', 'log device reads slower than this as warnings (and reads still unanswered after 10 times as long, while they wait)', parseCount('--slow-read', 1), 1000)
    .addOption(new Option('--notify-parent').hideHelp())
    .action(lazy(async () => (await import('./mount')).runMount));
}

function defineUmount(program: Command): void {
  program
    .command('umount')
    .alias('unmount')
    .description('unmount a blkfs MOUNTPOINT: flush the cache state, stop nbdkit, stop the server')
    .argument('<mountpoint>', 'a blkfs mount')
    .option('--lazy', 'unmount even while programs have files open there (their next read fails)')
    .action(lazy(async () => (await import('./umount')).runUmount));
}

function defineAcquire(program: Command): void {
  program
    .command('acquire')
    .description(
      'read every untried sector of the medium mounted on MOUNTPOINT into the cache (ddrescue strategy), the filesystem metadata alongside',
    )
    .argument('<mountpoint>', 'a blkfs mount')
    .option('-q, --quiet', 'no progress bar')
    .option(
      '--files <glob>',
      "read these files first (after the filesystem metadata), e.g. '/DCIM/**'; N:/glob for filesystem N; repeatable",
      (g: string, all: string[] | undefined) => {
        // Loaded only when --files is given: blkfs --help loads the definitions alone.
        const { fileGlobProblem } = require('../files/glob') as typeof import('../files/glob');
        const problem = fileGlobProblem(g);
        if (problem !== undefined) throw new InvalidArgumentError(problem);
        return [...(all ?? []), g];
      },
    )
    .option('-n, --no-scrape', "skip the scraping phase (ddrescue -n): non-scraped areas ('/') stay for a later run")
    .option('-N, --no-trim', "skip the trimming phase (ddrescue -N): failed blocks stay non-trimmed ('*'); '/' areas left by an earlier run are still scraped")
    .option('-i, --input-position <bytes>', 'start of the rescue domain (ddrescue -i), on a sector boundary; numbers as ddrescue: 1048576, 0x100000, 2048s, 1Mi, 1M')
    .option('-s, --size <bytes>', 'maximum size of the rescue domain (ddrescue -s; -1: up to the end); with -i/-s nothing outside the domain is read, not even the filesystem metadata')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        "  blkfs acquire --files '/DCIM/**' /mnt/card",
        '  blkfs acquire -n /mnt/disk              # a dying disk: the easy data first, no scraping',
        '  blkfs acquire -i 0 -s 1Mi /mnt/disk     # only the first MiB (partition table, boot code)',
        "  blkfs acquire /mnt/disk                 # then the rest: what is settled is not read again",
      ].join('\n'),
    )
    .action(lazy(async () => (await import('./acquire')).runAcquire));
}

function defineImport(program: Command): void {
  program
    .command('import')
    .description("seed a cache from a ddrescue rescue: IMAGE and its MAPFILE (the + areas' bytes; - * / areas as ddrescue left them)")
    .argument('<image>', 'image written by ddrescue')
    .argument('<mapfile>', 'its GNU ddrescue mapfile')
    .option('--cache <dir>', 'cache directory to seed')
    .option('--source <source>', 'the medium (device, image file or NBD URI): seeds its cache, checked against it')
    .option('--block-size <n>', 'sector size of the medium (with --source; default: detected)', parseBlockSize)
    .action(lazy(async () => (await import('./import')).runImport));
}

function defineExport(program: Command): void {
  program
    .command('export')
    .description('write the cache as a sparse image plus its ddrescue mapfile (from a MOUNTPOINT, or --cache DIR)')
    .argument('<paths...>', 'MOUNTPOINT OUT.img [OUT.map], or with --cache: OUT.img [OUT.map]')
    .option('--cache <dir>', 'export this cache directory (not mounted)')
    .option('-f, --force', 'write onto an existing block device, or over an image holding bytes the cache lacks (they are lost)')
    .action(lazy(async () => (await import('./export')).runExport));
}

function defineArchive(program: Command): void {
  program
    .command('archive')
    .description('write a BagIt bag of the medium mounted on MOUNTPOINT to each DEST (a directory or s3://bucket/prefix), while it is read')
    .argument('<mountpoint>', 'a blkfs mount')
    .argument('<dest...>', 'directory, or s3://bucket/prefix (endpoint, region, credentials from AWS_* variables or options)')
    .option('--endpoint <url>', 'S3 endpoint (MinIO, Ceph RGW, ...); default AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS')
    .option('--region <name>', 'S3 region (default AWS_REGION, else us-east-1)')
    .option('--meta <key=value>', 'user metadata on every S3 object, and a bag-info.txt line (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--part-size <size>', 'size of the parts data/image.sbx is sent in (default 8M; from 5M to 1G)', parseSize)
    .option('--name <bag>', 'bag name (default: <image name>-<SBX UID>)')
    .option('-q, --quiet', 'no progress bar')
    .action(lazy(async () => (await import('./archive')).runArchive));
}

function defineVerify(program: Command): void {
  program
    .command('verify')
    .description('check every cached byte against its checksum (fixity): exit 0 clean, 2 with the damaged ranges listed')
    .argument('[mountpoint]', 'a blkfs mount (its server checks its own cache)')
    .option('--cache <dir>', 'a cache directory that is not mounted')
    .option('--json', 'print the report as JSON on stdout')
    .option('-q, --quiet', 'no progress bar')
    .option('--forget-damaged', 'with --cache: mark damaged or missing ranges unread, so the next mount reads them again')
    .action(lazy(async () => (await import('./verify')).runVerify));
}

function defineFiles(program: Command): void {
  program
    .command('files')
    .description('list the files on the medium with bytes rescued / bad / untried and a verdict (intact, damaged, incomplete, unknown)')
    .argument('<paths...>', 'IMAGE MAPFILE (a ddrescue image and its mapfile: The Sleuth Kit reads only the bytes the mapfile calls rescued, through a private FUSE mount unless all are), or MOUNTPOINT (a blkfs mount)')
    .option('--damaged', 'list only files that are not intact')
    .addOption(new Option('--json', 'print the report as JSON').conflicts('csv'))
    .option('--csv', 'print the report as CSV')
    .action(lazy(async () => (await import('./files')).runFiles));
}

export function registerMap(program: Command): void {
  program
    .command('map')
    .description('draw a GNU ddrescue mapfile as a ddrescueview-style grid (PNG or SVG, by the output extension)')
    .argument('<mapfile>', 'a ddrescue mapfile (e.g. /mnt/disk/mapfile, or ddrescue\'s own)')
    .requiredOption('-o, --output <file>', 'picture to write: NAME.png or NAME.svg')
    .option('--width <px>', 'picture width in pixels (default 800)', positiveInt('--width'))
    .option('--cells <n>', 'at most N cells in the grid (default 4096)', positiveInt('--cells'))
    .option('--sector-size <bytes>', "cells hold whole sectors of this size (default: as the mapfile's comments say (ddrescue -b, blkfs), else 512)", positiveInt('--sector-size'))
    .action(lazy(async () => (await import('./map')).runMap));
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the rescue on a blkfs MOUNTPOINT: % rescued, bad areas, rate and ETA, phase, finds, log, a one-line map')
    .argument('<mountpoint>', 'a blkfs mount')
    .option('--json', 'print MOUNTPOINT/status (JSON) as it is')
    .option('-w, --watch', 'redraw every --interval seconds until Ctrl-C')
    .option('--interval <seconds>', 'refresh interval for --watch', seconds, 1)
    .option('--dat <file>', 'a Logiqx XML DAT (redump, No-Intro): name the entry the complete image matches, or say none does')
    .action(lazy(async () => (await import('./status')).runStatus));
}

function parseCount(what: string, min: number) {
  return (text: string): number => {
    const n = Number(text);
    // commander reports an InvalidArgumentError with exit code 1 (bad user input).
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${what} must be an integer ≥ ${min}`);
    return n;
  };
}

/** A byte size: 65536, 512K, 4M, 4MiB (powers of 1024), within the cache's bounds (0 turns readahead off). */
function parseReadahead(text: string): number {
  const m = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ') : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_READAHEAD_BYTES || (n > 0 && n < MIN_READAHEAD_BYTES)) {
    throw new InvalidArgumentError(`--readahead must be 0 (off) or a size from ${MIN_READAHEAD_BYTES >> 10}K to ${MAX_READAHEAD_BYTES >> 20}M (e.g. 512K, 4M)`);
  }
  return n;
}

function parseSize(text: string): number {
  const m = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const n = m ? Number(m[1]) * 1024 ** ' KMG'.indexOf(m[2].toUpperCase() || ' ') : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('--part-size must be a size such as 8M or 64M');
  // S3 refuses a smaller part but the last (a smaller size was raised to 5M without a word).
  if (n < 5 * 1024 ** 2) throw new InvalidArgumentError("--part-size must be at least 5M (S3's smallest part)");
  // Each part is held in memory and hashed in one piece while it is stored (archive/part-plan.ts MAX_PART_SIZE).
  if (n > 1024 ** 3) throw new InvalidArgumentError('--part-size must be at most 1G (a part is held in memory and hashed in one piece)');
  return n;
}

function positiveInt(what: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer`);
    return n;
  };
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0.1 || n > 3600) throw new InvalidArgumentError('--interval must be 0.1 to 3600 seconds');
  return n;
}
