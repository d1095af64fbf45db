// `blkfs sbx encode INFILE [OUT]`: build a container (INFILE '-' = stdin, which needs OUT).
import * as fs from 'fs';
import * as path from 'path';
import { encodeFile, EncodeStats, encodeStream } from '../../sbx/encode';
import { formatMultihash, parseHashTypeName } from '../../sbx/format/multihash';
import { defaultExtensionOf } from '../../sbx/format/specs';
import { calcContainer } from '../../sbx/calc';
import { byteSize } from '../../byte-size';
import { UserError } from '../../errors';
import { blkarDate, ReportObject } from './report';
import { guardOutputs, replaceOnSuccess } from '../output-guard';
import { time } from './common';
import {
  CommonOpts,
  EncodingOpts,
  isDirectory,
  parseRange,
  parseUid,
  printerFor,
  RangeOpts,
  requireExisting,
  resolveEncodingParams,
  runCommand,
} from './options';

interface EncodeOpts extends CommonOpts, RangeOpts, EncodingOpts {
  force?: boolean;
  hash?: string;
  meta?: boolean;
  uid?: string;
  infoOnly?: boolean;
}

export async function runEncode(input: string, out: string | undefined, opts: EncodeOpts): Promise<void> {
  const printer = printerFor(opts);
  await runCommand(printer, async () => {
    const params = resolveEncodingParams(opts);
    const hash = parseHashTypeName(opts.hash ?? 'sha256');
    if (!hash) throw new UserError('Invalid hash type');
    const uid = opts.uid === undefined ? undefined : parseUid(opts.uid);
    const range = parseRange(opts);
    const fromStdin = input === '-';
    if (!fromStdin) requireExisting(input);
    const ext = defaultExtensionOf(params.version);
    let outPath: string;
    if (out === undefined) {
      if (fromStdin) throw new UserError('Explicit output file name is required when input is stdin');
      outPath = `${input}.${ext}`;
    } else if (isDirectory(out)) {
      if (fromStdin) throw new UserError('Explicit output file name is required when input is stdin');
      outPath = path.join(out, `${path.basename(input)}.${ext}`);
    } else outPath = out;
    if (opts.infoOnly) {
      if (fromStdin) throw new UserError('No information is available for stdin input');
      return printer.result(await infoOnlyReport(input, outPath, params, opts.meta !== false));
    }
    guardOutputs([outPath], fromStdin ? [] : [input]);
    if (!opts.force && fs.existsSync(outPath)) throw new UserError(`File "${outPath}" already exists`);
    const progress = printer.progress('SBX encoding progress');
    const encodeOpts = {
      version: params.version,
      d: params.version >= 17 ? params.dataShards : undefined,
      p: params.version >= 17 ? params.parityShards : undefined,
      burst: params.version >= 17 ? params.burst : undefined,
      hash,
      noMeta: opts.meta === false,
      snm: path.basename(outPath), // OUT's name, not that of the file written beside it
      uid,
      from: range.from,
      toInc: range.toInclusive,
      toExc: range.toExclusive,
      onProgress: (p: { bytesProcessed: number; totalBytes: number | null }) =>
        progress.update(p.bytesProcessed, p.totalBytes ?? p.bytesProcessed),
    };
    // Written beside OUT and renamed over it when complete: with -f, a failure keeps the earlier container, and what
    // it wrote is kept too (as blkar keeps a failed run's output).
    const encode = (file: string, stop?: AbortSignal) =>
      fromStdin ? encodeStream(process.stdin, file, { ...encodeOpts, stop }) : encodeFile(input, file, { ...encodeOpts, stop });
    const s = await replaceOnSuccess(outPath, encode, true);
    progress.finish();
    return printer.result(encodeReport(s));
  });
}

/** blkar's `encode --info-only`: what the container would be, from the input's size (the byte range is not applied). */
async function infoOnlyReport(input: string, outPath: string, params: ReturnType<typeof resolveEncodingParams>, metaEnabled: boolean): Promise<ReportObject> {
  const st = fs.statSync(input);
  const size = await byteSize(st);
  const c = calcContainer({ fileSize: size, version: params.version, dataShards: params.dataShards, parityShards: params.parityShards, burst: params.burst, metaEnabled });
  const mtime = Math.floor(st.mtimeMs / 1000);
  const stats = new ReportObject()
    .add('File name', input)
    .add('SBX container name', outPath)
    .add('SBX container version', c.version)
    .add('SBX container block size', c.blockSize)
    .add('SBX container data  size', c.dataSize);
  if (c.rsDataShardCount !== null) {
    stats.add('RS data   shard count', c.rsDataShardCount).add('RS parity shard count', c.rsParityShardCount).add('Burst error resistance level', c.burstErrorResistanceLevel);
  }
  return new ReportObject().add(
    'stats',
    stats
      .add('File size', size)
      .add('SBX container size', c.containerSize)
      .add('File modification time', mtime >= 0 ? blkarDate(mtime) : null),
  );
}

export function encodeReport(s: EncodeStats): ReportObject {
  const st = new ReportObject()
    .add('File UID', s.uid.toString('hex').toUpperCase())
    .add('SBX version', s.version)
    .add('Block size used in encoding', s.blockSize)
    .add('Data size used in encoding', s.dataSize)
    .add('Number of blocks written', s.blocksWritten)
    .add('Number of blocks written (metadata)', s.metaBlocksWritten)
    .add('Number of blocks written (data)', s.dataBlocksWritten);
  if (s.version >= 17) st.add('Number of blocks written (parity)', s.parityBlocksWritten);
  st.add('Amount of data encoded (bytes)', s.bytesEncoded)
    .add('File size', s.fileSize)
    .add('SBX container size', s.containerSize)
    .add('Hash', s.hash ? formatMultihash(s.hash) : null)
    .add('Time elapsed', time(s.elapsedMs / 1000));
  return new ReportObject().add('stats', st);
}
