// `blkfs sbx sort SBX [OUT]`: rewrite every block to its canonical position (default OUT: SBX.sorted).
import * as path from 'path';
import { sortContainer, SortStats } from '../../sbx/sort';
import { ReportObject } from './report';
import { guardOutputs } from '../output-guard';
import { time, withVerboseRef } from './common';
import {
  CommonOpts,
  MultiPassOpts,
  GuessBurstOpts,
  isDirectory,
  parseBurst,
  parseGuessBurstFrom,
  parseMultiPass,
  RangeOpts,
  RefRangeOpts,
  parseRange,
  parseRefRange,
  printerFor,
  requireRandomAccess,
  runCommand,
} from './options';

interface SortOpts extends CommonOpts, RangeOpts, RefRangeOpts, MultiPassOpts, GuessBurstOpts {
  force?: boolean;
  dryRun?: boolean;
  reportBlank?: boolean;
}

export async function runSort(input: string, out: string | undefined, opts: SortOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'sort');
    const output = out === undefined ? `${input}.sorted` : isDirectory(out) ? path.join(out, `${path.basename(input)}.sorted`) : out;
    if (!opts.dryRun) guardOutputs([output], [input]);
    const progress = printer.progress('SBX block sorting progress');
    const s = await sortContainer({
      input,
      output,
      force: !!opts.force,
      multiPass: parseMultiPass(opts),
      dryRun: !!opts.dryRun,
      burst: parseBurst(opts.burst),
      guessBurstFrom: parseGuessBurstFrom(opts),
      reportBlank: !!opts.reportBlank,
      range: parseRange(opts),
      refRange: parseRefRange(opts),
      onProgress: progress.update,
    });
    progress.finish();
    return printer.result(...withVerboseRef(opts.verbose, s.ref, sortReport(s)));
  });
}

export function sortReport(s: SortStats): ReportObject {
  const report = new ReportObject();
  const ec = s.version >= 17;
  if (ec) report.add('Burst error resistance level', s.burst);
  const st = new ReportObject()
    .add('SBX version', s.version)
    .add('Block size used in checking', s.blockSize)
    .add('Number of blocks processed', s.blocksProcessed)
    .add('Number of blocks sorted (metadata)', s.metaSorted)
    .add('Number of blocks sorted (data)', s.dataSorted);
  if (ec) st.add('Number of blocks sorted (parity)', s.paritySorted);
  st.add('Number of blocks in same order (metadata)', s.metaSameOrder)
    .add('Number of blocks in diff order (metadata)', s.metaDiffOrder)
    .add('Number of blocks in same order (data)', s.dataSameOrder)
    .add('Number of blocks in diff order (data)', s.dataDiffOrder);
  if (ec) st.add('Number of blocks in same order (parity)', s.paritySameOrder).add('Number of blocks in diff order (parity)', s.parityDiffOrder);
  st.add('Number of blocks failed to sort', s.blocksFailed).add('Time elapsed', time(s.totalSeconds));
  return report.add('stats', st);
}
