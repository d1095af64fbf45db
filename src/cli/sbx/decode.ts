// `blkfs sbx decode SBX [OUT]`: rebuild the original file (OUT '-' = stdout, a directory = DIR/<stored name>).
import { decodeContainer, DecodeStats } from '../../sbx/decode';
import { ReportObject, renderHuman } from './report';
import { guardOutputs, guardStandardOutput } from '../output-guard';
import { time, withVerboseRef } from './common';
import {
  CommonOpts,
  GuessBurstOpts,
  MultiPassOpts,
  parseBurst,
  parseGuessBurstFrom,
  parseMultiPass,
  parseRange,
  parseRefRange,
  printerFor,
  RangeOpts,
  RefRangeOpts,
  requireRandomAccess,
  runCommand,
} from './options';

interface DecodeOpts extends CommonOpts, RangeOpts, RefRangeOpts, MultiPassOpts, GuessBurstOpts {
  force?: boolean;
  meta?: boolean;
}

export async function runDecode(input: string, out: string | undefined, opts: DecodeOpts): Promise<void> {
  const toStdout = out === '-';
  const printer = printerFor(opts, { reportToStderr: toStdout });
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'decode');
    if (toStdout) guardStandardOutput([input]);
    const range = parseRange(opts);
    const refRange = parseRefRange(opts);
    const progress = printer.progress('SBX block decoding progress');
    const hashProgress = printer.progress('Output file hashing progress');
    const stats = await decodeContainer({
      input,
      output: out,
      stdout: toStdout ? process.stdout : undefined,
      force: !!opts.force,
      checkOutput: (outPath) => guardOutputs([outPath], [input]),
      multiPass: parseMultiPass(opts),
      noMeta: opts.meta === false,
      range,
      refRange,
      burst: parseBurst(opts.burst),
      guessBurstFrom: parseGuessBurstFrom(opts),
      onProgress: progress.update,
      onHashProgress: (done, total) => {
        progress.finish();
        hashProgress.update(done, total);
      },
    });
    progress.finish();
    hashProgress.finish();
    for (const w of stats.warnings) printer.note(w);
    const report = decodeReport(stats);
    const verdict = hashVerdict(stats.hashMatches, toStdout ? 'output' : 'output file');
    return printer.result(...withVerboseRef(opts.verbose, stats.ref, report, renderHuman(report) + (verdict ? verdict + '\n' : '')));
  });
}

export function decodeReport(s: DecodeStats): ReportObject {
  const report = new ReportObject();
  const ec = s.version >= 17;
  if (ec) report.add('Burst error resistance level', s.burst);
  const st = new ReportObject()
    .add('File UID', s.uid)
    .add('SBX version', s.version)
    .add('Block size used in decoding', s.blockSize)
    .add('Number of blocks processed', s.blocksProcessed)
    .add('Number of blocks decoded (metadata)', s.metaBlocksDecoded)
    .add('Number of blocks decoded (data)', s.dataBlocksDecoded);
  if (ec) st.add('Number of blocks decoded (parity)', s.parityBlocksDecoded);
  const failed = s.blocksFailedByKind;
  if (!failed) st.add('Number of blocks failed to decode', s.blocksFailed);
  else {
    // Decoding to stdout, blkar splits the failures by the kind of block expected (DecodeFailStats::Breakdown).
    st.add('Number of blocks failed to decode (metadata)', failed.metadata).add('Number of blocks failed to decode (data)', failed.data);
    if (ec) st.add('Number of blocks failed to decode (parity)', failed.parity);
  }
  st
    .add('File size', s.fileSize)
    .add('SBX container size', s.containerSize)
    .add('Time elapsed for decoding', time(s.decodeSeconds))
    .add('Recorded hash', s.recordedHash)
    .add('Hash of output file', s.outputHash)
    .add('Time elapsed for hashing', time(s.hashSeconds))
    .add('Time elapsed', time(s.totalSeconds));
  report.add('stats', st);
  return report;
}

/** The verdict line blkar prints after the stats in human mode. */
export function hashVerdict(matches: boolean | null, what: string): string | null {
  if (matches === null) return null;
  return matches ? `The ${what} hash matches the recorded hash` : `The ${what} hash does NOT match the recorded hash`;
}
