// The reference block of a run (sbx-format.md §8): it fixes version, block size and UID, and (when it is a
// metadata block) carries the RS parameters, FSZ and HSH every workflow works from.
import { isValidBlock } from './format/header';
import { findReferenceBlock, ReferenceBlock, RefChoice } from './format/scan';
import { SCAN_STEP } from './format/specs';
import { RandomReader } from './reader';
import { ByteRange, resolveByteRange } from './byte-range';
import { WorkflowError } from './workflow-errors';

/** blkar's refBlockInfo: what kind of block fixed version/UID, and where it was found. */
export interface RefBlockInfo {
  type: 'metadata' | 'data';
  version: number;
  pos: number;
}

/** The reference block found in the range (start rounded down to 128 bytes unless forceMisalign); WorkflowError when none. */
export async function requireReferenceBlock(reader: RandomReader, choice: RefChoice, range?: ByteRange): Promise<ReferenceBlock> {
  const { start, end } = resolveByteRange(range, reader.size, SCAN_STEP);
  const ref = await findReferenceBlock(reader, choice, start, end);
  if (!ref) throw new WorkflowError('Failed to find reference block');
  return ref;
}

/** blkar's refBlockInfo of a reference block. */
export function refBlockInfo(ref: ReferenceBlock): RefBlockInfo {
  return { type: ref.header.seq === 0 ? 'metadata' : 'data', version: ref.header.version, pos: ref.pos };
}

/**
 * D and P of an EC reference block; blkar refuses an EC reference block without RSD/RSP (7.1.1, #210), with
 * these messages (misc_macros.rs). `purpose` is blkar's verb: "decode", "check", "sort", "repair", "update".
 */
export function rsParamsOf(ref: ReferenceBlock, purpose: string): { d: number; p: number } {
  const at = `Reference block at byte ${ref.pos} (0x${ref.pos.toString(16).toUpperCase()})`;
  const v = ref.header.version;
  if (ref.meta === null) throw new WorkflowError(`${at} is not a metadata block but must be one to ${purpose} for version ${v}`);
  const missing = (id: string) => new WorkflowError(`${at} is a metadata block but does not have ${id} field (must be present to ${purpose} for version ${v})`);
  if (ref.meta.rsd === undefined) throw missing('RSD');
  if (ref.meta.rsp === undefined) throw missing('RSP');
  return { d: ref.meta.rsd, p: ref.meta.rsp };
}

/** True iff `buf` holds a whole valid block with the reference block's version and UID (and `seq` if given). */
export function isSameContainerBlock(buf: Uint8Array, ref: ReferenceBlock, seq?: number, offset = 0): boolean {
  return isValidBlock(buf, { version: ref.header.version, uid: ref.header.uid, seq }, offset);
}
