// `blkfs sbx update SBX`: edit FNM / SNM / HSH in every metadata copy in place (asks first unless -y/--dry-run/--json).
import { Command } from 'commander';
import { parseHashTypeName } from '../../sbx/format/multihash';
import { updateContainer, UpdateStats } from '../../sbx/update';
import { UserError } from '../../errors';
import { ReportObject, renderHuman } from './report';
import { time } from './common';
import {
  addCommonOptions,
  askToContinue,
  CommonOpts,
  parseBurst,
  printerFor,
  requireExisting,
  runCommand,
} from './options';

interface UpdateOpts extends CommonOpts {
  /** string = --fnm NAME, false = --no-fnm. */
  fnm?: string | false;
  snm?: string | false;
  hash?: string;
  /** false = --no-hsh. */
  hsh?: boolean;
  burst?: string;
  skipWarning?: boolean;
  dryRun?: boolean;
}

export function registerUpdate(sbx: Command): void {
  const cmd = sbx
    .command('update')
    .description('update the metadata of an SBX container in place')
    .argument('<SBX>', 'SBX container')
    .option('--fnm <NAME>', 'set the stored file name')
    .option('--no-fnm', 'remove the stored file name')
    .option('--snm <NAME>', 'set the stored container name')
    .option('--no-snm', 'remove the stored container name')
    .option('--hash <HASH-TYPE>', 'hash the stored data with this type and store the hash')
    .option('--no-hsh', 'remove the stored hash')
    .option('--burst <LEVEL>', 'burst error resistance level (guessed when absent)')
    .option('-y, --skip-warning', 'do not ask before writing')
    .option('--dry-run', 'only report, write nothing');
  addCommonOptions(cmd);
  cmd.action(async (input: string, _o: unknown, command: Command) => {
    // commander folds --fnm / --no-fnm into one key; read the raw flags to tell "not given" from "removed".
    const raw = command.opts<UpdateOpts>();
    const opts = raw;
    const printer = printerFor(opts);
    await runCommand(printer, async () => {
      requireExisting(input);
      const fnm = raw.fnm === false ? null : typeof raw.fnm === 'string' ? raw.fnm : undefined;
      const snm = raw.snm === false ? null : typeof raw.snm === 'string' ? raw.snm : undefined;
      let hash: ReturnType<typeof parseHashTypeName> | null | undefined;
      if (raw.hsh === false) hash = null;
      if (typeof raw.hash === 'string') {
        const t = parseHashTypeName(raw.hash);
        if (!t) throw new UserError('Invalid hash type');
        if (hash === null) throw new UserError('--hash and --no-hsh cannot be used together');
        hash = t;
      }
      const burst = parseBurst(opts.burst);
      if (!opts.skipWarning && !opts.dryRun && !opts.json) {
        printer.note('Warning :\n\n    Update mode modifies the SBX container in place\n');
        if (!(await askToContinue())) return 0;
      }
      const progress = printer.progress('Stored data hashing progress');
      const s = await updateContainer({ input, fnm, snm, hash, burst, dryRun: !!opts.dryRun, onHashProgress: progress.update });
      if (hash) progress.finish();
      const report = updateReport(s);
      let human = '';
      if (opts.verbose || opts.dryRun) {
        for (const u of s.updates) {
          human += `Metadata block at byte ${u.pos}:\n`;
          for (const c of u.changes) human += `    ${c.id}: ${c.before ?? 'N/A'} -> ${c.after ?? '(removed)'}\n`;
          if (u.changes.length === 0) human += '    (no changes)\n';
        }
        for (const p of s.failedPositions) human += `Metadata block at byte ${p}: failed to decode, left untouched\n`;
        human += '\n';
      }
      return printer.result(report, human + renderHuman(report));
    });
  });
}

export function updateReport(s: UpdateStats): ReportObject {
  const report = new ReportObject();
  if (s.version >= 17) report.add('Burst error resistance level', s.burst);
  return report.add(
    'stats',
    new ReportObject()
      .add('SBX version', s.version)
      .add('Block size used in updating', s.blockSize)
      .add('Number of metadata blocks processed', s.metaBlocksProcessed)
      .add('Number of metadata blocks updated', s.metaBlocksUpdated)
      .add('Number of metadata blocks failed to decode', s.metaBlocksFailedToDecode)
      .add('Time elapsed', time(s.totalSeconds)),
  );
}
