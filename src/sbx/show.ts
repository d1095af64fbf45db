/**
 * `show` workflow (blkar show_core): 128-byte scan for valid metadata blocks; the first one, or every one with
 * `showAll`, optionally only of one UID. With `guessBurst`, also the reference block and the burst level.
 */
import { uidToHex } from './format/header';
import { exactFileSize, Metadata, parseMetadataPayload } from './format/metadata';
import { HEADER_SIZE, isEcVersion, SbxVersion, SCAN_STEP } from './format/specs';
import { scanBlocks } from './format/scan';
import { Progress } from './block-pass';
import { BytePosition, ByteRange, resolveByteRange } from './byte-range';
import { burstGuessStart, guessBurst } from './container-layout';
import { withFileReader } from './file-io';
import { RefBlockInfo, refBlockInfo, requireReferenceBlock, rsParamsOf } from './reference-block';

export interface ShowParams {
  input: string;
  showAll?: boolean;
  /** Only blocks of this UID (6 bytes). */
  onlyUid?: Buffer;
  guessBurst?: boolean;
  guessBurstFrom?: BytePosition;
  range?: ByteRange;
  onProgress?: Progress;
  /** Called for each block as it is found (blkar displays immediately). */
  onBlock?: (b: ShownMetadataBlock) => void;
}

export interface ShownMetadataBlock {
  /** 0-based count of metadata blocks shown. */
  number: number;
  pos: number;
  uid: string;
  version: SbxVersion;
  meta: Metadata;
  /** FSZ as stored: meta.fsz is rounded above 2^53 (18446744073709551615 would show as …552000). */
  fsz?: bigint;
}

export interface ShowStats {
  ref: RefBlockInfo | null;
  /** With guessBurst: the guess (null if it could not be made, or for versions 1–3 which have no RS). */
  burstGuess: number | null;
  guessed: boolean;
  blocks: ShownMetadataBlock[];
}

export function showContainer(params: ShowParams): Promise<ShowStats> {
  return withFileReader(params.input, async (reader) => {
    const stats: ShowStats = { ref: null, burstGuess: null, guessed: false, blocks: [] };
    if (params.guessBurst) {
      // blkar's show searches the reference block in the range itself (other modes shift it, refSearchRange).
      const ref = await requireReferenceBlock(reader, 'must-be-meta', params.range);
      stats.ref = refBlockInfo(ref);
      stats.guessed = true;
      if (isEcVersion(ref.header.version)) {
        const rs = rsParamsOf(ref, 'guess the burst error resistance level');
        stats.burstGuess = await guessBurst(reader, ref, rs, burstGuessStart(ref.bytes.length, params.guessBurstFrom, params.range));
      }
    }
    const { start, end } = resolveByteRange(params.range, reader.size, SCAN_STEP);
    const progress = (pos: number) => params.onProgress?.(Math.min(pos, end) - start, end - start);
    for await (const b of scanBlocks(reader, start, end, progress)) {
      if (b.header.seq !== 0) continue;
      if (params.onlyUid && !params.onlyUid.equals(b.header.uid)) continue;
      const shown: ShownMetadataBlock = {
        number: stats.blocks.length,
        pos: b.pos,
        uid: uidToHex(b.header.uid),
        version: b.header.version,
        meta: parseMetadataPayload(b.bytes.subarray(HEADER_SIZE)),
        fsz: exactFileSize(b.bytes.subarray(HEADER_SIZE)),
      };
      stats.blocks.push(shown);
      params.onBlock?.(shown);
      if (!params.showAll) break;
    }
    return stats;
  });
}
