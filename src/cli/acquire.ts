// `blkfs acquire MOUNTPOINT`: the server reads every sector not yet tried (ddrescue's strategy, behind
// foreground readers); a progress bar on stderr until done. Ctrl-C stops the acquisition cleanly.
import { Command, InvalidArgumentError } from 'commander';
import { fileGlobProblem } from '../files/glob';
import { ProgressReporter } from './sbx/report';
import { OperationError } from '../errors';
import { mountAction } from './mount-action';
import { findServer } from './mount-target';
import { requestServer } from './server-answer';

function summary(result: unknown, interrupted: boolean): string {
  const r = result as { bytesCached?: number; bytesBad?: number; size?: number; aborted?: boolean; cancelled?: boolean };
  if (typeof r?.size !== 'number') return interrupted ? 'blkfs: acquisition stopped\n' : '';
  const left = r.size - (r.bytesCached ?? 0) - (r.bytesBad ?? 0);
  const state = r.aborted || r.cancelled || interrupted ? 'stopped; run again to resume' : 'finished';
  return `blkfs: acquisition ${state}: ${r.bytesCached} bytes rescued, ${r.bytesBad} bytes in bad sectors, ${left} bytes not settled\n`;
}

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
      (g: string, all: string[] | undefined) => {
        const problem = fileGlobProblem(g);
        if (problem !== undefined) throw new InvalidArgumentError(problem);
        return [...(all ?? []), g];
      },
    )
    .addHelpText('after', "\nExample: blkfs acquire --files '/DCIM/**' /mnt/card")
    .action(
      mountAction(async (mountpoint: string, opts: { quiet?: boolean; files?: string[] }) => {
        const server = await findServer(mountpoint);
        const bar = new ProgressReporter('Acquiring the medium', 'bytes', opts.quiet ? 0 : 2, false, process.stderr);
        const session = await requestServer(server, { cmd: 'acquire', ...(opts.files ? { files: opts.files } : {}) }, (p) => {
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
          if (reply.type === 'error') throw new OperationError(`acquisition failed: ${reply.message}`);
          bar.finish();
          if (reply.type === 'done') process.stderr.write(summary(reply.result, interrupted));
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
