// `blkfs acquire MOUNTPOINT`: the server reads every sector not yet tried (ddrescue's strategy, behind
// foreground readers); a progress bar on stderr until done. Ctrl-C stops the acquisition cleanly.
// ddrescue's -n, -N, -i, -s mean here what they mean there (src/cache/rescue-scope.ts); -R is not offered.
import { Command } from 'commander';
import { ProgressReporter } from './sbx/report';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';
import { findServer } from './mount-target';
import { requestServer } from './server-answer';
import { acquireSummary } from './acquire-summary';
import { parseDdrescueNumber } from './ddrescue-number';
import { domainOf, RescueScope } from '../cache/rescue-scope';

function stoppedEarly(reply: { type: string; result?: unknown }): boolean {
  const r = reply.result as { aborted?: boolean; cancelled?: boolean } | undefined;
  return reply.type === 'done' && (r?.aborted === true || r?.cancelled === true);
}

/** What the server does before its passes, which has no byte count to show. */
const PHASES = {
  metadata: 'reading the filesystem metadata first (The Sleuth Kit)',
  files: 'reading the files asked for with --files next',
} as const;

/** Like ddrescue after SIGINT: the run was stopped on purpose, the state is saved. */
const EXIT_INTERRUPTED = 130;

interface AcquireOptions {
  quiet?: boolean;
  files?: string[];
  /** false with -n/--no-scrape, false with -N/--no-trim (commander's negatable options). */
  scrape: boolean;
  trim: boolean;
  inputPosition?: string;
  size?: string;
}

/** ddrescue's -n/-N/-i/-s as a scope, the domain checked against the medium (exit 1 outside it or unaligned). */
function scopeOf(opts: AcquireOptions, medium: { size: number; sectorSize: number } | undefined): RescueScope {
  let domain;
  if (opts.inputPosition !== undefined || opts.size !== undefined) {
    if (!medium) throw new OperationError('the mount did not say its medium size (its /status): cannot place -i/-s');
    const start = opts.inputPosition === undefined ? 0 : parseDdrescueNumber(opts.inputPosition, '-i/--input-position', medium.sectorSize);
    const size = opts.size === undefined ? undefined : parseDdrescueNumber(opts.size, '-s/--size', medium.sectorSize);
    domain = domainOf(start, size, medium);
  }
  return { ...(opts.scrape ? {} : { noScrape: true }), ...(opts.trim ? {} : { noTrim: true }), ...(domain ? { domain } : {}) };
}

export function registerAcquire(program: Command): void {
  program
    .command('acquire')
    .description(
      'read every untried sector of the medium mounted on MOUNTPOINT into the cache (ddrescue strategy), the filesystem metadata first',
    )
    .argument('<mountpoint>')
    .option('-q, --quiet', 'no progress bar')
    .option(
      '--files <glob>',
      "read these files first (after the filesystem metadata), e.g. '/DCIM/**'; N:/glob for filesystem N; repeatable",
      (g: string, all: string[] | undefined) => [...(all ?? []), g],
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
    .action(
      mountAction(async (mountpoint: string, opts: AcquireOptions) => {
        const server = await findServer(mountpoint);
        const scope = scopeOf(opts, server.medium);
        if (scope.domain && opts.files) throw new UserError('--files cannot be combined with -i/-s: the files may lie outside the domain');
        if (scope.domain && !opts.quiet) process.stderr.write('blkfs: -i/-s: the filesystem metadata is not read first (it may lie outside the domain)\n');
        const bar = new ProgressReporter('Acquiring the medium', 'bytes', opts.quiet ? 0 : 2, false, process.stderr);
        const request = { cmd: 'acquire' as const, scope, ...(opts.files ? { files: opts.files } : {}) };
        const session = await requestServer(server, request, (p) => {
          if (p.type !== 'progress') return;
          const phase = p.phase === 'metadata' || p.phase === 'files' ? PHASES[p.phase] : undefined;
          if (phase === undefined) bar.update(p.bytesDone, p.bytesTotal);
          else if (!opts.quiet) process.stderr.write(`blkfs: ${phase}\n`);
        });
        let interrupted = false;
        const onSigint = () => {
          interrupted = true;
          process.stderr.write('\nblkfs: stopping the acquisition...\n');
          session.send({ cmd: 'cancel' });
        };
        process.on('SIGINT', onSigint);
        let reply: Awaited<typeof session.result>;
        try {
          reply = await session.result;
          if (reply.type === 'error') {
            // Refused (other options running, a domain off this medium): the server's exit 1 stays 1.
            if (reply.exitCode === 1) throw new UserError(reply.message);
            throw new OperationError(`acquisition failed: ${reply.message}`);
          }
          bar.finish();
          if (reply.type === 'done') process.stderr.write(acquireSummary(reply.result, interrupted));
        } finally {
          process.off('SIGINT', onSigint);
        }
        if (interrupted) process.exit(EXIT_INTERRUPTED);
        if (stoppedEarly(reply)) {
          // Not our Ctrl-C: the mount was unmounted (or its server stopped) under us. A script must not go on as if done.
          throw new OperationError(`the acquisition on ${server.mountpoint} was stopped before the end (the mount went away); mount again and run blkfs acquire to resume`);
        }
      }),
    );
}
