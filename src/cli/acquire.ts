// `blkfs acquire MOUNTPOINT`: the server reads every sector not yet tried (ddrescue's strategy, behind
// foreground readers); a progress bar on stderr until done. Ctrl-C stops the acquisition cleanly.
// ddrescue's -n, -N, -i, -s mean here what they mean there (src/cache/rescue-scope.ts); -R is not offered.
import type { RescueScope } from '../cache/rescue-scope';
import { OperationError, UserError } from '../errors';
import { mountAction } from './mount-action';

function stoppedEarly(reply: { type: string; result?: unknown }): boolean {
  const r = reply.result as { aborted?: boolean; cancelled?: boolean } | undefined;
  return reply.type === 'done' && (r?.aborted === true || r?.cancelled === true);
}

/** What the server does besides its passes (or before them, with --files), which has no byte count to show. */
const PHASES: Record<string, string> = {
  'metadata-alongside': 'reading the filesystem metadata alongside the copying (The Sleuth Kit, its reads first)',
  metadata: 'reading the filesystem metadata first (The Sleuth Kit)',
  files: 'reading the files asked for with --files next',
};

/** Like ddrescue after SIGINT: the run was stopped on purpose, the state is saved. */
const EXIT_INTERRUPTED = 130;

export interface AcquireOptions {
  quiet?: boolean;
  files?: string[];
  /** false with -n/--no-scrape, false with -N/--no-trim (commander's negatable options). */
  scrape: boolean;
  trim: boolean;
  inputPosition?: string;
  size?: string;
}

/** ddrescue's -n/-N/-i/-s as a scope, the domain checked against the medium (exit 1 outside it or unaligned). */
async function scopeOf(opts: AcquireOptions, medium: { size: number; sectorSize: number } | undefined): Promise<RescueScope> {
  let domain;
  if (opts.inputPosition !== undefined || opts.size !== undefined) {
    if (!medium) throw new OperationError('the mount did not say its medium size (its /status): cannot place -i/-s');
    const [{ parseDdrescueNumber }, { domainOf }] = await Promise.all([import('./ddrescue-number'), import('../cache/rescue-scope')]);
    const start = opts.inputPosition === undefined ? 0 : parseDdrescueNumber(opts.inputPosition, '-i/--input-position', medium.sectorSize);
    const size = opts.size === undefined ? undefined : parseDdrescueNumber(opts.size, '-s/--size', medium.sectorSize);
    domain = domainOf(start, size, medium);
  }
  return { ...(opts.scrape ? {} : { noScrape: true }), ...(opts.trim ? {} : { noTrim: true }), ...(domain ? { domain } : {}) };
}

export const runAcquire = mountAction(async (mountpoint: string, opts: AcquireOptions) => {
  const [{ findServer }, { requestServer }, { ProgressReporter }, { acquireSummary }] = await Promise.all([
    import('./mount-target'),
    import('./server-answer'),
    import('./sbx/report'),
    import('./acquire-summary'),
  ]);
  const server = await findServer(mountpoint);
  const scope = await scopeOf(opts, server.medium);
  if (scope.domain && opts.files) throw new UserError('--files cannot be combined with -i/-s: the files may lie outside the domain');
  if (scope.domain && !opts.quiet) process.stderr.write('blkfs: -i/-s: the filesystem metadata is not read (it may lie outside the domain)\n');
  const bar = new ProgressReporter('Acquiring the medium', 'bytes', opts.quiet ? 0 : 2, false, process.stderr);
  const request = { cmd: 'acquire' as const, scope, ...(opts.files ? { files: opts.files } : {}) };
  const session = await requestServer(server, request, (p) => {
    if (p.type !== 'progress') return;
    const phase = p.phase !== undefined && Object.hasOwn(PHASES, p.phase) ? PHASES[p.phase] : undefined;
    // A line of its own, also while the bar is drawn (the metadata phase's note comes during the passes).
    if (p.note !== undefined) {
      if (!opts.quiet) bar.interject(`blkfs: ${p.note}\n`);
    } else if (phase === undefined) bar.update(p.bytesDone, p.bytesTotal);
    else if (!opts.quiet) bar.interject(`blkfs: ${phase}\n`);
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
});
