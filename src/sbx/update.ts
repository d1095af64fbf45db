/**
 * `update` workflow (blkar update_core): edit FNM / SNM / HSH in every metadata copy, in place. Each copy is
 * edited on its own (not replaced by the first): an update keeps the field's position, an addition goes last,
 * a removal shifts later fields up; updates/additions happen before removals, in the order FNM, SNM, HSH.
 * `--hash TYPE` re-hashes the stored data. Invalid copies are counted and left untouched.
 */
import { promises as fsp } from 'fs';
import { buildBlock } from './header';
import { encodeMetadataFields, MetadataField, MetadataTooLargeError, parseMetadataFields } from './metadata';
import { createHasher, formatMultihash, HashType, Multihash } from './multihash';
import { FileReader } from './reader';
import { HEADER_SIZE, isEcVersion } from './specs';
import {
  burstOrGuess,
  checkRecordedSize,
  findReferenceBlock,
  hashStoredData,
  isSameContainerBlock,
  layoutOf,
  Progress,
  refBlockType,
  rsParamsOf,
  secondsSince,
  WorkflowError,
  writeAt,
  RefBlockInfo,
} from './workflow-common';

export interface UpdateParams {
  input: string;
  /** New file name (FNM); null removes it. */
  fnm?: string | null;
  /** New container name (SNM); null removes it. */
  snm?: string | null;
  /** Re-hash the stored data with this type; null removes HSH. */
  hash?: HashType | null;
  burst?: number;
  dryRun?: boolean;
  onHashProgress?: Progress;
}

export interface FieldChange {
  id: 'FNM' | 'SNM' | 'HSH';
  before: string | null;
  after: string | null;
}

export interface MetadataBlockUpdate {
  pos: number;
  changes: FieldChange[];
}

export interface UpdateStats {
  ref: RefBlockInfo;
  burst: number | null;
  version: number;
  blockSize: number;
  metaBlocksProcessed: number;
  metaBlocksUpdated: number;
  metaBlocksFailedToDecode: number;
  updates: MetadataBlockUpdate[];
  /** Byte positions of copies that were not valid (left untouched). */
  failedPositions: number[];
  totalSeconds: number;
}

function show(f: MetadataField | undefined): string | null {
  if (!f) return null;
  if (f.id === 'HSH') return formatMultihash(f.value);
  return String(f.value);
}

/** Applies the edits to one copy's fields with blkar's position rules; returns the new fields and the changes. */
export function editFields(
  fields: readonly MetadataField[],
  edits: { fnm?: string | null; snm?: string | null; hsh?: Multihash | null },
): { fields: MetadataField[]; changes: FieldChange[] } {
  let out = [...fields];
  const changes: FieldChange[] = [];
  const upsert = (field: MetadataField) => {
    const i = out.findIndex((f) => f.id === field.id);
    changes.push({ id: field.id as FieldChange['id'], before: show(out[i]), after: show(field) });
    if (i >= 0) out[i] = field;
    else out.push(field);
  };
  if (typeof edits.fnm === 'string') upsert({ id: 'FNM', value: edits.fnm });
  if (typeof edits.snm === 'string') upsert({ id: 'SNM', value: edits.snm });
  if (edits.hsh) upsert({ id: 'HSH', value: edits.hsh });
  const remove = (id: FieldChange['id']) => {
    const first = out.find((f) => f.id === id);
    if (!first) return;
    changes.push({ id, before: show(first), after: null });
    out = out.filter((f) => f.id !== id);
  };
  if (edits.fnm === null) remove('FNM');
  if (edits.snm === null) remove('SNM');
  if (edits.hsh === null) remove('HSH');
  return { fields: out, changes };
}

export async function updateContainer(params: UpdateParams): Promise<UpdateStats> {
  const t0 = Date.now();
  const reader = await FileReader.open(params.input);
  let handle: fsp.FileHandle | null = null;
  try {
    const ref = await findReferenceBlock(reader, 'must-be-meta');
    const version = ref.header.version;
    let rs: { d: number; p: number } | null = null;
    let burst: number | null = null;
    if (isEcVersion(version)) {
      rs = rsParamsOf(ref, 'update');
      burst = await burstOrGuess(reader, ref, rs.d, rs.p, params.burst);
    }
    const layout = layoutOf(ref, rs, burst ?? 0);
    const bs = layout.blockSize;
    const stats: UpdateStats = {
      ref: { type: refBlockType(ref), version, pos: ref.pos },
      burst,
      version,
      blockSize: bs,
      metaBlocksProcessed: 0,
      metaBlocksUpdated: 0,
      metaBlocksFailedToDecode: 0,
      updates: [],
      failedPositions: [],
      totalSeconds: 0,
    };

    let hsh: Multihash | null | undefined = params.hash === null ? null : undefined;
    if (params.hash) {
      const fsz = ref.meta?.fsz;
      if (fsz === undefined) throw new WorkflowError('Reference block does not have a file size field (FSZ), cannot compute the hash of the stored data');
      checkRecordedSize(layout, fsz);
      const hasher = createHasher(params.hash);
      await hashStoredData(reader, ref, layout, fsz, hasher, params.onHashProgress);
      hsh = { type: params.hash, digest: hasher.digest() };
    }

    if (!params.dryRun) handle = await fsp.open(params.input, 'r+');
    for (const idx of layout.metadataIndices()) {
      const pos = idx * bs;
      stats.metaBlocksProcessed++;
      const b = await reader.read(pos, bs);
      if (!isSameContainerBlock(b, ref, 0)) {
        stats.metaBlocksFailedToDecode++;
        stats.failedPositions.push(pos);
        continue;
      }
      const { fields, changes } = editFields(parseMetadataFields(b.subarray(HEADER_SIZE, bs)), {
        fnm: params.fnm,
        snm: params.snm,
        hsh,
      });
      let payload: Buffer;
      try {
        payload = encodeMetadataFields(fields, version);
      } catch (e) {
        if (e instanceof MetadataTooLargeError) throw new WorkflowError(e.message);
        throw e;
      }
      if (handle) await writeAt(handle, buildBlock(version, ref.header.uid, 0, payload), pos);
      stats.metaBlocksUpdated++;
      stats.updates.push({ pos, changes });
    }
    if (handle) await handle.sync();
    stats.totalSeconds = secondsSince(t0);
    return stats;
  } finally {
    await reader.close();
    if (handle) await handle.close();
  }
}
