// `blkfs sbx check SBX`: verify every block's CRC; optionally re-hash the stored data (--hash / --hash-only).
import { checkContainer, CheckStats } from '../../sbx/check';
import { UserError } from '../../errors';
import { BLKAR_ERROR_PREFIX, ReportList, ReportObject, renderHuman } from './report';
import { blockCheckCounts, time, withVerboseRef } from './common';
import { hashVerdict } from './decode';
import {
  CommonOpts,
  GuessBurstOpts,
  parseBurst,
  parseGuessBurstFrom,
  parseRange,
  parseRefRange,
  printerFor,
  RangeOpts,
  RefRangeOpts,
  requireRandomAccess,
  runCommand,
} from './options';

interface CheckOpts extends CommonOpts, RangeOpts, RefRangeOpts, GuessBurstOpts {
  meta?: boolean;
  reportBlank?: boolean;
  hash?: boolean;
  hashOnly?: boolean;
}

export async function runCheck(input: string, opts: CheckOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'check');
    const range = parseRange(opts);
    const hashing = opts.hash || opts.hashOnly;
    if (hashing && (range.from !== undefined || range.toInclusive !== undefined || range.toExclusive !== undefined)) {
      throw new UserError('--hash and --hash-only cannot be used with --from, --to-inc or --to-exc');
    }
    const blockProgress = printer.progress('SBX block checking progress');
    const hashProgress = printer.progress('Stored data hashing progress');
    const stats = await checkContainer({
      input,
      noMeta: opts.meta === false,
      reportBlank: !!opts.reportBlank,
      hash: !!opts.hash,
      hashOnly: !!opts.hashOnly,
      burst: parseBurst(opts.burst),
      guessBurstFrom: parseGuessBurstFrom(opts),
      range,
      refRange: parseRefRange(opts),
      onProgress: blockProgress.update,
      onHashProgress: (done, total) => {
        blockProgress.finish();
        hashProgress.update(done, total);
      },
    });
    if (!opts.hashOnly) blockProgress.finish();
    if (hashing) hashProgress.finish();
    if (opts.verbose) {
      for (const f of stats.failures) {
        printer.note(`Block failed check at byte ${f.pos} (0x${f.pos.toString(16).toUpperCase()})${f.blank ? ' (blank)' : ''}`);
      }
    }
    const report = checkReport(stats, opts.verbose && opts.json);
    const verdict = stats.hashError ? `Encountered error while hashing stored data, ${BLKAR_ERROR_PREFIX}${stats.hashError}` : hashVerdict(stats.hashMatches, 'stored data');
    const summary = stats.blocksFailed === 0 ? 'No errors found' : `${stats.blocksFailed} block(s) failed the check`;
    return printer.result(...withVerboseRef(opts.verbose, stats.ref, report, renderHuman(report) + (opts.hashOnly ? '' : summary + '\n') + (verdict ? verdict + '\n' : '')));
  });
}

/** `listFailed` (blkar's -v in JSON mode): "blocks failed" first, the blank blocks it counted (non-blank ones are only counted). */
export function checkReport(s: CheckStats, listFailed = false): ReportObject {
  const report = new ReportObject();
  if (listFailed) report.add('blocks failed', new ReportList(s.failures.filter((f) => f.blank).map((f) => new ReportObject().add('pos', f.pos))));
  if (s.burst !== null) report.add('Burst error resistance level', s.burst);
  const st = blockCheckCounts(s).add('Time elapsed for block check', time(s.blockCheckSeconds));
  if (s.hashChecked) {
    st.add('Recorded hash', s.recordedHash)
      .add('Hash of stored data', s.hashError ? BLKAR_ERROR_PREFIX + s.hashError : s.storedDataHash)
      .add('Time elapsed for hashing', time(s.hashSeconds));
  }
  st.add('Time elapsed', time(s.totalSeconds));
  report.add('stats', st);
  return report;
}
