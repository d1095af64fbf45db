// `blkfs sbx rescue INFILE OUTDIR [LOGFILE]`: harvest valid SBX blocks from any file or block device.
import { Command } from 'commander';
import { PickBlock, rescueBlocks } from '../../sbx/rescue';
import { UserError } from '../../errors';
import { ReportObject } from './report';
import { addCommonOptions, addRangeOptions, CommonOpts, parseRange, parseUid, printerFor, RangeOpts, requireExisting, runCommand } from './options';

interface RescueOpts extends CommonOpts, RangeOpts {
  onlyPickBlock?: string;
  onlyPickUid?: string;
}

export function registerRescue(sbx: Command): void {
  const cmd = sbx
    .command('rescue')
    .description('rescue SBX blocks from a file or block device (appends to OUTDIR/<UID>)')
    .argument('<INFILE>', 'file or block device to scan')
    .argument('<OUTDIR>', 'existing directory for the rescued blocks')
    .argument('[LOGFILE]', 'log file to record progress in and resume from')
    .option('--only-pick-block <TYPE>', 'only pick blocks of this type: any, meta, data', 'any')
    .option('--only-pick-uid <UID-HEX>', 'only pick blocks of this UID (12 hex digits)');
  addRangeOptions(cmd);
  addCommonOptions(cmd, { verbose: false });
  cmd.action(async (input: string, outDir: string, logFile: string | undefined, opts: RescueOpts) => {
    const printer = printerFor(opts);
    await runCommand(printer, async () => {
      if (!['any', 'meta', 'data'].includes(opts.onlyPickBlock ?? 'any')) throw new UserError('Invalid block type');
      requireExisting(input);
      const progress = printer.progress('Data scanning progress');
      const s = await rescueBlocks({
        input,
        outDir,
        logFile,
        onlyPickBlock: (opts.onlyPickBlock ?? 'any') as PickBlock,
        onlyPickUid: opts.onlyPickUid === undefined ? undefined : parseUid(opts.onlyPickUid),
        range: parseRange(opts),
        onProgress: progress.update,
      });
      progress.finish();
      const stats = new ReportObject()
        .add('Number of bytes processed', s.bytesProcessed)
        .add('Number of blocks processed', s.blocksProcessed)
        .add('Number of blocks processed (metadata)', s.metaBlocksProcessed)
        .add('Number of blocks processed (data)', s.dataBlocksProcessed);
      return printer.result(new ReportObject().add('stats', stats));
    });
  });
}
