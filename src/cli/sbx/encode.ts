// `blkfs sbx encode INFILE [OUT]`: build a container (INFILE '-' = stdin, which needs OUT).
import * as fs from 'fs';
import * as path from 'path';
import { Command, Option } from 'commander';
import { encodeFile, EncodeStats, encodeStream } from '../../sbx/encode';
import { formatMultihash, parseHashTypeName } from '../../sbx/format/multihash';
import { defaultExtensionOf } from '../../sbx/format/specs';
import { calcContainer } from '../../sbx/calc';
import { byteSize } from '../../sbx/reader';
import { UserError } from '../../errors';
import { blkarDate, ReportObject } from './report';
import { guardOutputs, replaceOnSuccess } from '../output-guard';
import { time } from './common';
import {
  addCommonOptions,
  CommonOpts,
  isDirectory,
  parseRange,
  parseUid,
  printerFor,
  RangeOpts,
  requireExisting,
  resolveEncodingParams,
  runCommand,
} from './options';

interface EncodeOpts extends CommonOpts, RangeOpts {
  force?: boolean;
  sbxVersion?: string;
  rsData?: string;
  rsParity?: string;
  burst?: string;
  hash?: string;
  meta?: boolean;
  uid?: string;
  infoOnly?: boolean;
}

/** blkar's --sbx-version help (cli_utils.rs): scripts parse the table and the defaults line. */
export const SBX_VERSION_HELP = `SBX container version, one of :
                    | SBX block size | FEC enabled | Burst error resistance |
           1        |      512 bytes |          no |          not supported |
           2        |      128 bytes |          no |          not supported |
           3        |     4096 bytes |          no |          not supported |
(default) 17 (0x11) |      512 bytes |         yes |              supported |
          18 (0x12) |      128 bytes |         yes |              supported |
          19 (0x13) |     4096 bytes |         yes |              supported |

                    | File extension |
           1        |           .sbx |
           2        |           .sbx |
           3        |           .sbx |
(default) 17 (0x11) |         .ecsbx |
          18 (0x12) |         .ecsbx |
          19 (0x13) |         .ecsbx |

Details of default option : sbx-version=17, rs-data=10, rs-parity=2, burst=12

Note : blkar will function correctly regardless of the file extension you pick,
       the ones listed above are just the defaults
`;

export function registerEncode(sbx: Command): void {
  const cmd = sbx
    .command('encode')
    .description('encode a file into an SBX container')
    .argument('<INFILE>', 'file to encode ("-" for stdin)')
    .argument('[OUT]', 'output container (default: INFILE.sbx / INFILE.ecsbx; a directory: DIR/<file name>.<ext>)')
    .option('-f, --force', 'overwrite the output file if it exists')
    .option('--sbx-version <SBX-VERSION>', 'SBX container version (1, 2, 3, 17, 18, 19; default 17)')
    .option('--rs-data <SHARD>', 'Reed-Solomon data shard count (needs --sbx-version)')
    .option('--rs-parity <SHARD>', 'Reed-Solomon parity shard count (needs --sbx-version)')
    .option('--burst <LEVEL>', 'burst error resistance level (needs --sbx-version)')
    .option('--hash <HASH-TYPE>', 'hash type: sha1, sha256, sha512, blake2b-256, blake2b-512, blake2s-128, blake2s-256', 'sha256')
    .option('--no-meta', 'no metadata block (versions 1-3; ignored for 17-19)')
    .option('--uid <UID-HEX>', 'file UID, exactly 12 hex digits (default random)')
    .option('--from <FROM-BYTE>', 'encode from this byte of the input')
    .addOption(new Option('--skip-to <FROM-BYTE>', 'alias of --from').hideHelp())
    .option('--to-inc <TO-BYTE>', 'last byte of the input to encode (inclusive)')
    .option('--to-exc <TO-BYTE>', 'last byte of the input to encode (exclusive)')
    .option('--info-only', 'only show the encoding figures, write nothing');
  addCommonOptions(cmd, { verbose: false });
  cmd.addHelpText('after', '\n' + SBX_VERSION_HELP);
  cmd.action(async (input: string, out: string | undefined, opts: EncodeOpts) => {
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
      // Written beside OUT and renamed over it when complete: with -f, a failure keeps the earlier container.
      const s = await replaceOnSuccess(outPath, (file) => (fromStdin ? encodeStream(process.stdin, file, encodeOpts) : encodeFile(input, file, encodeOpts)));
      progress.finish();
      return printer.result(encodeReport(s));
    });
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
