// `blkfs sbx show SBX`: the first (or every, --show-all) metadata block found by a 128-byte scan.
import { formatMultihash } from '../../sbx/format/multihash';
import { isEcVersion } from '../../sbx/format/specs';
import { ShownMetadataBlock, showContainer } from '../../sbx/show';
import { ReportList, blkarDate, ReportObject, renderHuman } from './report';
import { refBlockInfo } from './common';
import { visibleName } from '../../visible-text';
import {
  CommonOpts,
  parseGuessBurstFrom,
  parseRange,
  parseUid,
  printerFor,
  RangeOpts,
  requireRandomAccess,
  runCommand,
} from './options';

interface ShowOpts extends CommonOpts, RangeOpts {
  showAll?: boolean;
  onlyPickUid?: string;
  guessBurst?: boolean;
  guessBurstFrom?: string;
}

export async function runShow(input: string, opts: ShowOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    requireRandomAccess(input, 'show');
    const progress = printer.progress('Metadata block scanning progress');
    const stats = await showContainer({
      input,
      showAll: !!opts.showAll,
      onlyUid: opts.onlyPickUid === undefined ? undefined : parseUid(opts.onlyPickUid),
      guessBurst: !!opts.guessBurst,
      guessBurstFrom: parseGuessBurstFrom(opts),
      range: parseRange(opts),
      onProgress: progress.update,
    });
    progress.finish();
    const report = new ReportObject();
    if (stats.guessed && stats.ref) {
      report.add('ref block info', refBlockInfo(stats.ref));
      report.add('Best guess for burst error resistance level', stats.burstGuess);
    }
    report.add('blocks', new ReportList(stats.blocks.map(blockObj)));
    let human = '';
    if (stats.guessed && stats.ref) {
      // blkar's show_core: what it prints while guessing.
      const r = stats.ref;
      human += 'Guessing burst error resistance level\n\n';
      human += `Using ${r.type} block as reference block, SBX version ${r.version}, located at byte ${r.pos} (0x${r.pos.toString(16).toUpperCase()})\n\n`;
      if (r.version < 17) human += 'Reference block version does not use Reed-Solomon erasure code\n';
      else if (stats.burstGuess === null) human += 'Failed to guess level\n';
      else human += `Best guess for burst error resistance level : ${stats.burstGuess}\n`;
      human += `\n${'='.repeat(40)}\n\n`;
    }
    if (stats.blocks.length === 0) human += 'No metadata blocks found\n';
    stats.blocks.forEach((b, i) => (human += blockHuman(b, i, !!opts.showAll)));
    return printer.result(report, human);
  });
}

function blockObj(b: ShownMetadataBlock): ReportObject {
  const m = b.meta;
  const o = new ReportObject()
    .add('Metadata block number', b.number)
    .add('Found at byte', b.pos)
    .add('File UID', b.uid)
    .add('File name', m.fnm ?? null, m.fnm === undefined ? undefined : visibleName(m.fnm))
    .add('SBX container name', m.snm ?? null, m.snm === undefined ? undefined : visibleName(m.snm))
    .add('SBX container version', b.version, isEcVersion(b.version) ? `${b.version} (0x${b.version.toString(16).toUpperCase()})` : undefined);
  const noRs = isEcVersion(b.version) ? undefined : 'version does not use RS';
  return o
    .add('RS data shard count', isEcVersion(b.version) ? (m.rsd ?? null) : null, noRs)
    .add('RS parity shard count', isEcVersion(b.version) ? (m.rsp ?? null) : null, noRs)
    .add('File size', b.fsz ?? null)
    .add('File modification time', m.fdt === undefined ? null : blkarDate(m.fdt))
    .add('SBX encoding time', m.sdt === undefined ? null : blkarDate(m.sdt))
    .add('Hash', m.hsh ? formatMultihash(m.hsh) : null);
}

/** blkar's show_core layout for people: the block number only with --show-all, the position in hex too. */
function blockHuman(b: ShownMetadataBlock, i: number, showAll: boolean): string {
  const [, , ...fields] = blockObj(b).fields;
  let text = showAll ? `${i > 0 ? '\n' : ''}Metadata block number : ${b.number}\n${'='.repeat(40)}\n` : '';
  text += `Found at byte          : ${b.pos} (0x${b.pos.toString(16).toUpperCase()})\n\n`;
  return text + renderHuman(new ReportObject(fields));
}
