// `blkfs sbx calc INFILE-SIZE`: blkar's container size calculator.
import { calcContainer } from '../../sbx/calc';
import { isEcVersion } from '../../sbx/format/specs';
import { UserError } from '../../errors';
import { ReportObject } from './report';
import { CommonOpts, EncodingOpts, parseU64, printerFor, resolveEncodingParams, runCommand } from './options';

interface CalcOpts extends CommonOpts, EncodingOpts {
  meta?: boolean;
}

export async function runCalc(size: string, opts: CalcOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    const size64 = parseU64(size, 'file size');
    if (size64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`File size too large to compute the figures exactly (above 2^53 bytes)`);
    const fileSize = Number(size64);
    const params = resolveEncodingParams(opts);
    const s = calcContainer({
      fileSize,
      version: params.version,
      dataShards: params.dataShards,
      parityShards: params.parityShards,
      burst: params.burst,
      metaEnabled: opts.meta !== false || isEcVersion(params.version),
    });
    // blkar's calc prints the figures for any size; only encode refuses one its seq numbers cannot reach.
    if (!Number.isSafeInteger(s.containerSize)) throw new UserError(`File size too large to compute the figures exactly (container beyond 2^53 bytes)`);
    const ec = isEcVersion(s.version);
    if (s.exceedsMaximum) printer.warn(`Note: the file size exceeds the maximum of ${s.maxFileSize} bytes for version ${s.version}${ec ? ` with ${s.rsDataShardCount} data and ${s.rsParityShardCount} parity shards` : ''}; encode would refuse it`);
    const stats = new ReportObject()
      .add('SBX container version', s.version)
      .add('SBX container block size', s.blockSize)
      .add('SBX container data size', s.dataSize);
    if (ec) {
      stats
        .add('Metadata block count', s.metadataBlockCount)
        .add('Data only block count', s.dataOnlyBlockCount)
        .add('Data parity block count', s.dataParityBlockCount)
        .add('Total block count', s.totalBlockCount);
    } else {
      stats
        .add('Metadata block count', s.metadataBlockCount)
        .add('Data block count', s.dataOnlyBlockCount)
        .add('Total block count', s.totalBlockCount);
    }
    stats
      .add('RS data shard count', s.rsDataShardCount)
      .add('RS parity shard count', s.rsParityShardCount)
      .add('Burst error resistance level', s.burstErrorResistanceLevel)
      .add('File size', s.fileSize)
      .add('SBX container size', s.containerSize);
    return printer.result(new ReportObject().add('stats', stats), humanCalc(s, ec));
  });
}

function humanCalc(s: ReturnType<typeof calcContainer>, ec: boolean): string {
  const l: string[] = [];
  const row = (label: string, v: string | number) => l.push(`    ${label.padEnd(28)} : ${v}`);
  l.push('SBX container general info', '========================================');
  row('SBX container version', s.version);
  row('SBX container block size', s.blockSize);
  row('SBX container data  size', s.dataSize);
  l.push('', 'SBX block distribution', '========================================');
  if (ec) {
    row('Metadata    block count', s.metadataBlockCount);
    row('Data only   block count', s.dataOnlyBlockCount);
    row('Data parity block count', s.dataParityBlockCount);
    row('Total       block count', s.totalBlockCount);
  } else {
    row('Metadata block count', s.metadataBlockCount);
    row('Data     block count', s.dataOnlyBlockCount);
    row('Total    block count', s.totalBlockCount);
  }
  l.push('', 'Error correction info', '========================================');
  row('RS data   shard count', s.rsDataShardCount ?? 'version does not use RS');
  row('RS parity shard count', s.rsParityShardCount ?? 'version does not use RS');
  row('Burst error resistance level', s.burstErrorResistanceLevel ?? 'version does not support burst error resistance');
  l.push('');
  if (ec) {
    const d = s.rsDataShardCount as number;
    const p = s.rsParityShardCount as number;
    const b = s.burstErrorResistanceLevel as number;
    const t = d + p;
    const bs = s.blockSize;
    l.push('Error correction parameters interpretation', '========================================');
    if (b === 0) {
      l.push(
        `    The container can tolerate ${p} SBX block corruptions`,
        '    in each block set.',
        '',
        `    A block set consists of ${t} blocks (${t * bs} bytes).`,
        '',
        `    In total, ${p} blocks(${p * bs} bytes) may be corrupted in`,
        '    each block set.',
      );
    } else {
      if (b === 1) l.push('    Warning :', '', `        Burst error resistance level of ${b} may not provide`, '        meaningful resistance.', '');
      l.push(
        `    The container can tolerate ${p} burst SBX block corruptions in`,
        `    each super block set (${b} interleaved block sets).`,
        '',
        `    A block set consists of ${t} blocks (${t * bs} bytes).`,
        '',
        `    A super block set consists of ${t * b} blocks (${t * b * bs} bytes).`,
        '',
        `    Each burst error may be up to ${b} blocks (${b * bs} bytes) in size.`,
        '',
        `    In total, ${p} sets of ${b} consecutive blocks (${b * bs} bytes) may be`,
        '    corrupted in each super block set.',
        '',
        '    The sets of corrupted blocks may be connected as well, so the',
        '    largest single burst error that can be tolerated in each super',
        `    block set is ${p * b} blocks (${p * b * bs} bytes) in size.`,
        '',
        '    Note that the actual tolerance depends on the behaviour of',
        '    the file system.',
      );
    }
    l.push('');
  }
  l.push('File and container size', '========================================');
  row('File size', s.fileSize);
  row('SBX container size', s.containerSize);
  return l.join('\n') + '\n';
}
