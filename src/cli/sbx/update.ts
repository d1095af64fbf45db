// `blkfs sbx update SBX`: edit FNM / SNM / HSH in every metadata copy in place (asks first unless -y/--dry-run/--json).
import type { Command } from 'commander';
import { guardOutputs } from '../output-guard';
import { parseHashTypeName } from '../../sbx/format/multihash';
import { updateContainer, UpdateStats } from '../../sbx/update';
import { UserError } from '../../errors';
import { ReportList, ReportObject, renderHuman } from './report';
import { visibleName } from '../../visible-text';
import { time, withVerboseRef } from './common';
import {
  askToContinue,
  CommonOpts,
  parseBurst,
  printerFor,
  requireRandomAccess,
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

/** `given`: which of --fnm, --no-fnm, --snm, --no-snm the command line holds (commander keeps only the last). */
export async function runUpdate(input: string, command: Command, given: ReadonlySet<string>): Promise<void> {
  // commander folds --fnm / --no-fnm into one key; read the raw flags to tell "not given" from "removed".
  const raw = command.opts<UpdateOpts>();
  const opts = raw;
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'update');
    // Written in place: as any output, not a cache's file, a blkfs mount's, nor a medium a loop device or NBD server serves.
    if (!opts.dryRun) guardOutputs([input], []);
    for (const f of ['fnm', 'snm']) if (given.has(f) && given.has(`no-${f}`)) throw new UserError(`--${f} and --no-${f} cannot be used together`);
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
    const report = updateReport(s, !!opts.verbose);
    let human = opts.dryRun ? 'Note : This is a dry run only, the container is not modified.\n\n' : '';
    if (s.version >= 17) human += `Burst error resistance level : ${s.burst}\n\n`;
    if (opts.verbose) human += metadataChangesText(s) + '\n';
    return printer.result(...withVerboseRef(opts.verbose, s.ref, report, human + renderHuman(report.fields.find((f) => f.label === 'stats')!.value as ReportObject)));
  });
}

/**
 * blkar's `update -v` listing (update_core.rs print_block_info_and_meta_changes): per valid metadata copy its
 * number and position, then each field that changes, with its old and new value (null: absent / removed).
 */
function metadataChanges(s: UpdateStats): ReportList {
  return new ReportList(
    s.updates.map((u) =>
      new ReportObject()
        .add('Metadata block number', u.number)
        .add('Found at byte', u.pos)
        .add('changes', new ReportList(u.changes.map((c) => new ReportObject().add('Field', c.id).add('From', c.before).add('To', c.after)))),
    ),
  );
}

/** The same listing as blkar prints it for humans. */
function metadataChangesText(s: UpdateStats): string {
  const blocks = s.updates.map((u) => {
    const shown = (v: string | null) => (v === null ? 'N/A' : visibleName(v)); // names from the container: no terminal control
    const changes = u.changes.map((c) => `Field         : ${c.id}\nFrom          : ${shown(c.before)}\nTo            : ${shown(c.after)}\n`);
    return `Metadata block number : ${u.number}\n${'='.repeat(40)}\nFound at byte : ${u.pos}\n\n${changes.join('\n')}`;
  });
  return blocks.join('\n');
}

export function updateReport(s: UpdateStats, verbose = false): ReportObject {
  const report = new ReportObject();
  if (s.version >= 17) report.add('Burst error resistance level', s.burst);
  if (verbose) report.add('metadata changes', metadataChanges(s));
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
