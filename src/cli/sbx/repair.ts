// `blkfs sbx repair SBX`: in-place Reed-Solomon repair of an EC container (asks first unless -y/--dry-run/--json).
import { guardOutputs } from '../output-guard';
import { repairContainer, RepairStats } from '../../sbx/repair';
import { ReportList, ReportObject, renderHuman } from './report';
import { blockCheckCounts, time, withVerboseRef } from './common';
import {
  askToContinue,
  CommonOpts,
  parseBurst,
  printerFor,
  requireRandomAccess,
  runCommand,
} from './options';

interface RepairOpts extends CommonOpts {
  burst?: string;
  skipWarning?: boolean;
  dryRun?: boolean;
}

export async function runRepair(input: string, opts: RepairOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'repair');
    // Written in place: as any output, not a cache's file, a blkfs mount's, nor a medium a loop device or NBD server serves.
    if (!opts.dryRun) guardOutputs([input], []);
    const burst = parseBurst(opts.burst);
    if (!opts.skipWarning && !opts.dryRun && !opts.json) {
      printer.note('Warning :\n\n    Repair mode modifies the SBX container in place\n\n    This may cause further damage to the container and prohibit further\n    repairs if the container is damaged in unexpected ways\n');
      if (!(await askToContinue())) return 0;
    }
    const progress = printer.progress('SBX block repairing progress');
    const stats = await repairContainer({ input, burst, dryRun: !!opts.dryRun, onProgress: progress.update });
    if (!stats.applicable) {
      printer.note(`Version ${stats.version} does not use Reed-Solomon erasure code, exiting now`);
      return printer.result(...withVerboseRef(opts.verbose, stats.ref, new ReportObject(), ''));
    }
    progress.finish();
    const report = repairReport(stats, !!opts.verbose);
    return printer.result(...withVerboseRef(opts.verbose, stats.ref, report, repairHuman(stats, !!opts.verbose, report)));
  });
}

export function repairReport(s: RepairStats, verbose: boolean): ReportObject {
  const meta = new ReportList(verbose ? s.metadataRepairs.map((pos) => new ReportObject().add('seq num', 0).add('pos', pos)) : []);
  const data = new ReportList(
    verbose
      ? s.setRepairs.map((r) =>
          new ReportObject()
            .add('success', r.success)
            .add('block set start', r.firstSeq)
            .add('block set end inclusive', r.lastSeq)
            .add('blocks', new ReportList(r.blocks.map((b) => new ReportObject().add('seq num', b.seq).add('pos', b.pos)))),
        )
      : [],
    true,
  );
  return new ReportObject()
    .add('Burst error resistance level', s.burst)
    .add('metadata repairs', meta)
    .add('data repairs', data)
    .add('stats', repairStatsObj(s));
}

function repairStatsObj(s: RepairStats): ReportObject {
  return blockCheckCounts(s)
    .add('Number of blocks repaired (metadata)', s.metaBlocksRepaired)
    .add('Number of blocks repaired (data)', s.dataBlocksRepaired)
    .add('Number of blocks failed to repair (data)', s.dataBlocksFailedToRepair)
    .add('Time elapsed', time(s.totalSeconds));
}

function repairHuman(s: RepairStats, verbose: boolean, _report: ReportObject): string {
  const lines: string[] = [];
  if (s.estimatedFromContainerSize) {
    lines.push('', 'Warning :', '', '    No recorded file size found, using container file size to estimate total', '    number of blocks. This may overestimate total number of blocks, and may', '    show false repair/verify failures when gaps in container are encountered.', '');
  }
  if (verbose) {
    for (const pos of s.metadataRepairs) lines.push(`Replaced invalid metadata block at ${pos} (0x${pos.toString(16).toUpperCase()}) with reference block`);
    if (s.metadataRepairs.length) lines.push('');
    for (const r of s.setRepairs) {
      const head = `${r.success ? 'Repair successful for ' : 'Repair failed     for '}block set [${r.firstSeq}..=${r.lastSeq}], ${r.success ? 'repaired' : 'failed  '} block no. : `;
      const list = r.blocks.length ? r.blocks.map((b) => `${b.seq} at byte ${b.pos} (0x${b.pos.toString(16).toUpperCase()})`) : ['(past the end of the container)'];
      lines.push(head + list.join('\n'));
    }
    if (s.setRepairs.length) lines.push('');
  } else {
    // Unrepairable sets are always worth naming, even without -v.
    const failed = s.setRepairs.filter((r) => !r.success);
    for (const r of failed.slice(0, 100)) lines.push(`Repair failed for block set [${r.firstSeq}..=${r.lastSeq}] (${r.blocks.length || r.lastSeq - r.firstSeq + 1} blocks missing)`);
    if (failed.length > 100) lines.push(`… and ${failed.length - 100} more unrepairable block sets`);
    if (failed.length) lines.push('');
  }
  // Not blkar's: its repair writes over such blocks. Said even without -v, as an unrepaired set is.
  for (const pos of s.metadataLeftAlone) lines.push(`Left invalid metadata block at ${pos} (0x${pos.toString(16).toUpperCase()}) untouched: a valid block of the container overlaps it`);
  if (s.metadataLeftAlone.length) lines.push('');
  lines.push(renderHuman(new ReportObject().add('stats', repairStatsObj(s))).replace(/\n$/, ''));
  const unrepaired = s.dataBlocksFailedToRepair + s.metadataLeftAlone.length;
  if (s.blocksFailed === 0) lines.push('No repairs required');
  else if (unrepaired === 0) lines.push('All corrupted/missing blocks were repaired successfully');
  else if (s.blocksFailed === unrepaired) lines.push('All repairs failed');
  else lines.push('Some repairs failed');
  return lines.join('\n') + '\n';
}
