// The container a reference block belongs to: RS parameters, burst level (given or guessed as blkar does) and
// the resulting layout.
import { guessBurstLevel } from './format/burst-guess';
import { Layout } from './format/layout';
import { ReferenceBlock } from './format/scan';
import { isEcVersion, SbxVersion } from './format/specs';
import { RandomReader } from './reader';
import { BytePosition, ByteRange, positionAsNumber } from './byte-range';
import { rsParamsOf } from './reference-block';
import { WorkflowError } from './workflow-errors';

/**
 * Where blkar starts guessing the burst level (get_guess_burst_from_pos_from_param): `--guess-burst-from`
 * rounded down to the block size; else, when `--from` is given, the start of the file shifted by --from's
 * misalignment (positions are counted from there, so the sample must start at a block index of 0);
 * with `forceMisalign` nothing is rounded.
 */
export function burstGuessStart(blockSize: number, guessBurstFrom: BytePosition | undefined, range?: ByteRange): number {
  const misalign = !!range?.forceMisalign;
  const bs = BigInt(blockSize);
  if (guessBurstFrom !== undefined) {
    const at = BigInt(guessBurstFrom);
    return positionAsNumber(misalign ? at : at - (at % bs));
  }
  if (range?.from !== undefined && misalign) return Number(BigInt(range.from) % bs);
  return 0;
}

/** The burst level guess for the container of `ref`, from byte `from`; null when every level ties. */
export function guessBurst(reader: RandomReader, ref: ReferenceBlock, rs: { d: number; p: number }, from = 0): Promise<number | null> {
  return guessBurstLevel(reader, { version: ref.header.version, uid: ref.header.uid, d: rs.d, p: rs.p }, from);
}

/** RS parameters and burst level (null for versions 1–3) and the layout they give. */
export interface ContainerLayout {
  rs: { d: number; p: number } | null;
  burst: number | null;
  layout: Layout;
}

/**
 * RS parameters (from the reference metadata block; `purpose` names the workflow in the error), burst level
 * (`burst` if given, else guessed from byte `guessFrom`) and layout. An unguessable level is a WorkflowError,
 * or with `optionalBurst` a null burst and a layout built with B = 0.
 */
export async function containerLayout(
  reader: RandomReader,
  ref: ReferenceBlock,
  purpose: string,
  o: { burst?: number; guessFrom?: number; optionalBurst?: boolean } = {},
): Promise<ContainerLayout> {
  const version: SbxVersion = ref.header.version;
  // blkar's readers (sort, stdout decode, starting-index guess) always count positions as if the metadata block
  // were there (meta_enabled = true): a container without one, or whose one is damaged, is still laid out so.
  if (!isEcVersion(version)) return { rs: null, burst: null, layout: new Layout({ version, metaEnabled: true }) };
  const rs = rsParamsOf(ref, purpose);
  const burst = o.burst ?? (await guessBurst(reader, ref, rs, o.guessFrom ?? 0));
  if (burst === null && !o.optionalBurst) throw new WorkflowError('Failed to guess burst resistance level, please specify via --burst option');
  return { rs, burst, layout: new Layout({ version, d: rs.d, p: rs.p, burst: burst ?? 0 }) };
}

/**
 * Checks that the file size recorded in the reference block is possible for the layout (a corrupt or hostile FSZ
 * must not make us loop for days); the error names the block's position, so it can be looked at or overwritten.
 */
export function checkRecordedSize(layout: Layout, ref: ReferenceBlock): void {
  const fsz = ref.meta?.fsz;
  if (fsz === undefined) return;
  if (!Number.isSafeInteger(fsz) || fsz > layout.maxFileSize()) {
    // Above 2^53 the number read is rounded: say so rather than print digits that are not in the block.
    const size = Number.isSafeInteger(fsz) ? String(fsz) : 'above 2^53';
    throw new WorkflowError(
      `Recorded file size ${size} is larger than a version ${layout.version} container can hold (${layout.maxFileSize()} bytes); ` +
        `the metadata block at byte ${ref.pos} (0x${ref.pos.toString(16).toUpperCase()}) is corrupt`,
    );
  }
}
