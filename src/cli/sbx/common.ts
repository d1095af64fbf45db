// Report pieces several `blkfs sbx` commands share (blkar prints the same blocks in several modes).
import { BlkfsError, OperationError } from '../../errors';
import { hms, renderHuman, ReportObject } from './report';

/** `"refBlockInfo": {"type": …, "ver": …, "pos": …}` */
export function refBlockInfo(ref: { type: string; version: number; pos: number }): ReportObject {
  return new ReportObject().add('type', ref.type).add('ver', ref.version).add('pos', ref.pos);
}

/**
 * blkar's -v (get_ref_block!): the reference block comes first, as "refBlockInfo" in JSON and for people as
 * "Using … block as reference block …" between blank lines. Without -v, the report as it is.
 */
export function withVerboseRef(
  verbose: boolean | undefined,
  ref: { type: string; version: number; pos: number },
  report: ReportObject,
  human: string = renderHuman(report),
): [ReportObject, string] {
  if (!verbose) return [report, human];
  const at = `${ref.pos} (0x${ref.pos.toString(16).toUpperCase()})`;
  return [
    new ReportObject([{ label: 'ref block info', value: refBlockInfo(ref) }, ...report.fields]),
    `\nUsing ${ref.type} block as reference block, SBX version ${ref.version}, located at byte ${at}\n\n${human}`,
  ];
}

/** The block-check counts `check` and `repair` both report (blkar's labels, in its order). */
export function blockCheckCounts(s: {
  version: number;
  blockSize: number;
  blocksProcessed: number;
  metaBlocksPassed: number;
  dataBlocksPassed: number;
  blocksFailed: number;
}): ReportObject {
  return new ReportObject()
    .add('SBX version', s.version)
    .add('Block size used in checking', s.blockSize)
    .add('Number of blocks processed', s.blocksProcessed)
    .add('Number of blocks passed check (metadata)', s.metaBlocksPassed)
    .add('Number of blocks passed check (data)', s.dataBlocksPassed)
    .add('Number of blocks failed check', s.blocksFailed);
}

export function time(seconds: number): string {
  return hms(seconds);
}

/** An I/O error of the system met during the operation: printed "Error : <message>", as blkar's own errors. */
class SystemIoError extends OperationError {
  readonly blkarPrefixed = true;
}

/**
 * Workflow errors carry their exit code; raw Node I/O errors (ENOENT, EACCES…) are failures of the operation. Node's
 * own ERR_* codes (ERR_OUT_OF_RANGE…) are bugs of ours, not I/O: they stay unclassified (a value out of range in
 * update was printed as an I/O error "Error : The value of …").
 */
export function classify(err: unknown): unknown {
  if (err instanceof BlkfsError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && !e.code.startsWith('ERR_') && typeof e.message === 'string') {
    return new SystemIoError(e.message, { cause: err });
  }
  return err;
}
