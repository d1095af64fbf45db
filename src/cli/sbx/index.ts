// `blkfs sbx …`: the blkar toolkit. What each command accepts (names, options, help) is defined here, cheap to
// load: `blkfs --help` and every other command read it. What a command does (one file each: it parses options,
// calls its workflow in src/sbx/ and prints through report.ts) is loaded only when that command runs.
import { Command, Option } from 'commander';
import { lazy } from '../commands';

export function registerSbxCommands(program: Command): void {
  const sbx = program
    .command('sbx')
    .description('SeqBox / EC-SeqBox archive toolkit, compatible with blkar 7.2.7')
    .showHelpAfterError();
  defineEncode(sbx);
  defineDecode(sbx);
  defineCheck(sbx);
  defineShow(sbx);
  defineCalc(sbx);
  defineRepair(sbx);
  defineRescue(sbx);
  defineSort(sbx);
  defineUpdate(sbx);
}

/** blkar's --sbx-version help (cli_utils.rs): scripts parse the table and the defaults line. */
const SBX_VERSION_HELP = `SBX container version, one of :
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

function defineEncode(sbx: Command): void {
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
  cmd.action(lazy(async () => (await import('./encode')).runEncode));
}

function defineDecode(sbx: Command): void {
  const cmd = sbx
    .command('decode')
    .description('decode an SBX container')
    .argument('<SBX>', 'SBX container')
    .argument('[OUT]', 'output file ("-" for stdout; a directory for DIR/<stored file name>; default: the stored file name)')
    .option('-f, --force', 'overwrite the output file if it exists');
  addMultiPassOptions(cmd)
    .option('--no-meta', 'use the first valid block of any kind as reference block')
    .option('--burst <LEVEL>', 'burst error resistance level (guessed when absent)')
    .option('--guess-burst-from <FROM-BYTE>', 'start burst level guessing from this byte');
  addRangeOptions(cmd);
  addRefRangeOptions(cmd);
  addCommonOptions(cmd);
  cmd.action(lazy(async () => (await import('./decode')).runDecode));
}

function defineCheck(sbx: Command): void {
  const cmd = sbx
    .command('check')
    .description('check the integrity of an SBX container')
    .argument('<SBX>', 'SBX container')
    .option('--no-meta', 'use the first valid block of any kind as reference block')
    .option('--report-blank', 'report all-zero (blank) blocks as failures too')
    .option('--hash', 'also check the hash of the stored data')
    .option('--hash-only', 'only check the hash of the stored data')
    .option('--burst <LEVEL>', 'burst error resistance level (for hashing; guessed when absent)')
    .option('--guess-burst-from <FROM-BYTE>', 'start burst level guessing from this byte');
  addRangeOptions(cmd);
  addRefRangeOptions(cmd);
  addCommonOptions(cmd);
  cmd.action(lazy(async () => (await import('./check')).runCheck));
}

function defineShow(sbx: Command): void {
  const cmd = sbx
    .command('show')
    .description('show metadata blocks of an SBX container')
    .argument('<SBX>', 'SBX container (any file: it is scanned in 128-byte steps)')
    .option('--show-all', 'show every metadata block found, not only the first')
    .option('--only-pick-uid <UID-HEX>', 'only blocks of this UID (12 hex digits)')
    .option('--guess-burst', 'also guess the burst error resistance level')
    .option('--guess-burst-from <FROM-BYTE>', 'start burst level guessing from this byte');
  addRangeOptions(cmd);
  addCommonOptions(cmd, { verbose: false });
  cmd.action(lazy(async () => (await import('./show')).runShow));
}

function defineCalc(sbx: Command): void {
  const cmd = sbx
    .command('calc')
    .description('compute SBX container size and block counts for a file size')
    .argument('<INFILE-SIZE>', 'input file size in bytes')
    .option('--sbx-version <SBX-VERSION>', 'SBX container version (1, 2, 3, 17, 18, 19)')
    .option('--rs-data <SHARD>', 'Reed-Solomon data shard count')
    .option('--rs-parity <SHARD>', 'Reed-Solomon parity shard count')
    .option('--burst <LEVEL>', 'burst error resistance level')
    .option('--no-meta', 'no metadata block (versions 1-3)');
  addCommonOptions(cmd, { verbose: false });
  cmd.addHelpText('after', '\n' + SBX_VERSION_HELP);
  cmd.action(lazy(async () => (await import('./calc')).runCalc));
}

function defineRepair(sbx: Command): void {
  const cmd = sbx
    .command('repair')
    .description('repair an EC-SBX container in place')
    .argument('<SBX>', 'SBX container')
    .option('--burst <LEVEL>', 'burst error resistance level (guessed when absent)')
    .option('-y, --skip-warning', 'do not ask before writing')
    .option('--dry-run', 'only report what would be repaired');
  addCommonOptions(cmd);
  cmd.action(lazy(async () => (await import('./repair')).runRepair));
}

function defineRescue(sbx: Command): void {
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
  cmd.action(lazy(async () => (await import('./rescue')).runRescue));
}

function defineSort(sbx: Command): void {
  const cmd = sbx
    .command('sort')
    .description('sort the blocks of an SBX container into canonical order')
    .argument('<SBX>', 'SBX container')
    .argument('[OUT]', 'output file (default: SBX.sorted; a directory: DIR/<file name of SBX>.sorted)')
    .option('-f, --force', 'overwrite the output file if it exists');
  addMultiPassOptions(cmd)
    .option('--dry-run', 'only report, write nothing')
    .option('--burst <LEVEL>', 'burst error resistance level of the output (default: the input\'s, guessed)')
    .option('--guess-burst-from <FROM-BYTE>', 'start burst level guessing from this byte')
    .option('--report-blank', 'count all-zero (blank) blocks as failures');
  addRangeOptions(cmd);
  addRefRangeOptions(cmd);
  addCommonOptions(cmd);
  cmd.action(lazy(async () => (await import('./sort')).runSort));
}

function defineUpdate(sbx: Command): void {
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
  // commander lets the last of --fnm NAME / --no-fnm win; blkar (clap) refuses the pair: note which were given.
  const given = new Set<string>();
  for (const name of ['fnm', 'no-fnm', 'snm', 'no-snm']) cmd.on(`option:${name}`, () => given.add(name));
  cmd.action(async (input: string, _o: unknown, command: Command) => (await import('./update')).runUpdate(input, command, given));
}

function addCommonOptions(cmd: Command, { verbose = true } = {}): Command {
  cmd.option('--json', 'output information in JSON format (progress as JSON lines on stderr)');
  cmd.option('--pv <LEVEL>', 'progress report verbosity level: 0 none, 1 summary when done, 2 bar and summary');
  if (verbose) cmd.option('-v, --verbose', 'more detailed output');
  return cmd;
}

function addRangeOptions(cmd: Command, { misalign = true } = {}): Command {
  cmd.option('--from <FROM-BYTE>', 'start from byte FROM-BYTE (rounded down to a block boundary)');
  cmd.addOption(new Option('--skip-to <FROM-BYTE>', 'alias of --from').hideHelp());
  cmd.option('--to-inc <TO-BYTE>', 'last byte position (inclusive)');
  cmd.option('--to-exc <TO-BYTE>', 'last byte position (exclusive)');
  if (misalign) cmd.option('--force-misalign', 'do not round --from down to a block boundary');
  return cmd;
}

function addRefRangeOptions(cmd: Command): Command {
  cmd.option('--ref-from <FROM-BYTE>', 'start the reference block search at this byte');
  cmd.option('--ref-to-inc <TO-BYTE>', 'last byte of the reference block search (inclusive)');
  cmd.option('--ref-to-exc <TO-BYTE>', 'last byte of the reference block search (exclusive)');
  return cmd;
}

/** blkar's `--multi-pass` / `--multi-pass-no-skip` (decode and sort). */
function addMultiPassOptions(cmd: Command): Command {
  cmd.option('--multi-pass', 'do not truncate OUT: write into it again, keeping what is already there (fill gaps from several damaged copies)');
  cmd.option('--multi-pass-no-skip', 'like --multi-pass, but rewrite every block even where OUT already has it');
  return cmd;
}
