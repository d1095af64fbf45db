/**
 * `update` workflow (blkar update_core): edit FNM / SNM / HSH in every metadata copy, in place. Each copy is
 * edited on its own (not replaced by the first): an update keeps the field's position, an addition goes last,
 * a removal shifts later fields up; updates/additions happen before removals, in the order FNM, SNM, HSH.
 * `--hash TYPE` re-hashes the stored data. Invalid copies are counted and left untouched.
 */
import { buildBlock } from './format/header';
import { encodeMetadataFields, MetadataField, MetadataTooLargeError, parseMetadataFields } from './format/metadata';
import { createHasher, formatMultihash, HashType, Multihash } from './format/multihash';
import { HEADER_SIZE } from './format/specs';
import { Progress, hashStoredData, secondsSince } from './block-pass';
import { checkRecordedSize, containerLayout } from './container-layout';
import { withFileReader } from './file-io';
import { BlockWrite, InPlaceWriter, withInPlaceWriter } from './in-place-writer';
import { RefBlockInfo, isSameContainerBlock, refBlockInfo, requireReferenceBlock } from './reference-block';
import { InputError, WorkflowError } from './workflow-errors';

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
  /** blkar's "Metadata block number": the copy's index among all metadata positions (invalid ones count too). */
  number: number;
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
    // blkar lists an update only when it changes something.
    const before = show(out[i]);
    const after = show(field);
    if (before !== after) changes.push({ id: field.id as FieldChange['id'], before, after });
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

export function updateContainer(params: UpdateParams): Promise<UpdateStats> {
  const t0 = Date.now();
  // An empty FNM/SNM record is unparsable to blkar (and to us): every field after it, RSD/RSP included, would be lost.
  if (params.fnm === '') return Promise.reject(new InputError('The new file name is empty (--no-fnm removes it)'));
  if (params.snm === '') return Promise.reject(new InputError('The new SBX container name is empty (--no-snm removes it)'));
  // A record's length is one byte: a longer name cannot be stored at all (it was an unclassified RangeError, exit 2).
  for (const [what, name] of [['file name', params.fnm], ['SBX container name', params.snm]] as const) {
    const bytes = typeof name === 'string' ? Buffer.byteLength(name, 'utf8') : 0;
    if (bytes > 255) return Promise.reject(new InputError(`The new ${what} is ${bytes} bytes long (UTF-8); a metadata field holds at most 255`));
  }
  // All copies are one unit: a stop signal that comes while they are written waits for the last of them.
  const whatWasDone = (n: number) => (n > 0 ? `all ${n} metadata blocks were updated first (and synced)` : 'the container was not modified');
  return withInPlaceWriter(params.input, !!params.dryRun, (writer) => updateCopies(params, writer, t0), whatWasDone);
}

function updateCopies(params: UpdateParams, writer: InPlaceWriter | null, t0: number): Promise<UpdateStats> {
  return withFileReader(params.input, async (reader) => {
    const ref = await requireReferenceBlock(reader, 'must-be-meta');
    const version = ref.header.version;
    const { burst, layout } = await containerLayout(reader, ref, 'update', { burst: params.burst });
    const bs = layout.blockSize;
    const stats: UpdateStats = {
      ref: refBlockInfo(ref),
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
      if (fsz === undefined) throw new WorkflowError('Reference block does not have a file size field');
      checkRecordedSize(layout, ref);
      const hasher = createHasher(params.hash);
      const { missingChunks } = await hashStoredData(reader, ref, layout, fsz, hasher, params.onHashProgress);
      // blkar refuses too: a digest with zeros for the missing chunks would replace the true hash for good.
      if (missingChunks > 0) {
        throw new WorkflowError(`Failed to decode data block: ${missingChunks} data block(s) missing or damaged; repair the container first (nothing was written)`);
      }
      hsh = { type: params.hash, digest: hasher.digest() };
    }

    // Every copy is edited in memory first, so a copy that cannot take the change writes nothing at all.
    const writes: BlockWrite[] = [];
    for (const [number, idx] of layout.metadataIndices().entries()) {
      const pos = idx * bs;
      const b = await reader.read(pos, bs);
      if (b.length < bs) break; // blkar stops at the end of the file: this copy and the later ones are not counted
      stats.metaBlocksProcessed++;
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
      // FSZ/FDT/SDT are read as doubles: one beyond 2^53 would be written back as another number (and one near 2^64
      // was a Node range error): the field is corrupt, and nothing is written.
      const lossy = fields.find((f) => (f.id === 'FSZ' || f.id === 'FDT' || f.id === 'SDT') && !Number.isSafeInteger(f.value));
      if (lossy) {
        throw new WorkflowError(
          `Recorded ${lossy.id} of the metadata block at byte ${pos} (0x${pos.toString(16).toUpperCase()}) is beyond 2^53 and cannot be kept exactly: the block is corrupt (nothing was written)`,
        );
      }
      let payload: Buffer;
      try {
        payload = encodeMetadataFields(fields, version);
      } catch (e) {
        if (e instanceof MetadataTooLargeError) throw new WorkflowError(e.message);
        throw e;
      }
      writes.push({ pos, block: buildBlock(version, ref.header.uid, 0, payload) });
      stats.metaBlocksUpdated++;
      stats.updates.push({ number, pos, changes });
    }
    await writer?.writeUnit(writes);
    stats.totalSeconds = secondsSince(t0);
    return stats;
  });
}
