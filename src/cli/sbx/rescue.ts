// `blkfs sbx rescue INFILE OUTDIR [LOGFILE]`: harvest valid SBX blocks from any file or block device.
import { PickBlock, rescueBlocks } from '../../sbx/rescue';
import { UserError } from '../../errors';
import { ReportList, ReportObject, renderHuman } from './report';
import { guardOutputs } from '../output-guard';
import { CommonOpts, parseRange, parseUid, printerFor, RangeOpts, requireRandomAccess, runCommand } from './options';

interface RescueOpts extends CommonOpts, RangeOpts {
  onlyPickBlock?: string;
  onlyPickUid?: string;
}

export async function runRescue(input: string, outDir: string, logFile: string | undefined, opts: RescueOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    if (!['any', 'meta', 'data'].includes(opts.onlyPickBlock ?? 'any')) throw new UserError('Invalid block type');
    requireRandomAccess(input, 'rescue');
    if (logFile !== undefined) guardOutputs([logFile, `${logFile}.tmp`], [input]); // the log is written to LOGFILE.tmp, then renamed
    const progress = printer.progress('Data scanning progress');
    const s = await rescueBlocks({
      input,
      outDir,
      logFile,
      onlyPickBlock: (opts.onlyPickBlock ?? 'any') as PickBlock,
      onlyPickUid: opts.onlyPickUid === undefined ? undefined : parseUid(opts.onlyPickUid),
      range: parseRange(opts),
      onProgress: progress.update,
      checkOutput: (outPath) => guardOutputs([outPath], [input]),
      // Logged as it happens (stderr keeps stdout for the report).
      onUnreadable: (a, b) => {
        if (!printer.json) process.stderr.write(`Unreadable bytes ${a} to ${b} (exclusive) skipped: EIO\n`);
      },
    });
    progress.finish();
    const stats = new ReportObject()
      .add('Number of bytes processed', s.bytesProcessed)
      .add('Number of blocks processed', s.blocksProcessed)
      .add('Number of blocks processed (metadata)', s.metaBlocksProcessed)
      .add('Number of blocks processed (data)', s.dataBlocksProcessed);
    const report = new ReportObject().add('stats', stats);
    // Not in blkar (which stops at the first read error): only shown when something was unreadable.
    if (s.bytesUnreadable > 0) {
      stats.add('Number of bytes unreadable', s.bytesUnreadable);
      report.add('unreadable ranges', new ReportList(s.unreadableRanges.map(([a, b]) => new ReportObject().add('start', a).add('end', b))));
    }
    const human =
      renderHuman(stats) + s.unreadableRanges.map(([a, b]) => `Unreadable, skipped : bytes ${a} to ${b} (exclusive), ${b - a} bytes\n`).join('');
    return printer.result(report, human);
  });
}
