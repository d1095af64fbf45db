// FAT keeps its volume label as a root directory entry with the Volume Label attribute, which TSK lists as an
// empty regular file named "<label> (Volume Label Entry)". The name alone cannot tell it from a user's own root
// file so named (a long name may hold spaces and parentheses): it only picks the candidates, and TSK's istat says
// which of them has the attribute. istat reads the root directory and chains tsk_loaddb has just read.
import Database from 'better-sqlite3';

const LABEL_SUFFIX = ' (Volume Label Entry)';
/** TSK_FS_TYPE_FAT12, _FAT16, _FAT32 (tsk_fs_info.fs_type). */
const FAT_TYPES = [0x2, 0x4, 0x8];

/** A root entry of a FAT filesystem that TSK's name says may be its volume label. */
export interface LabelCandidate {
  fsObjId: number;
  metaAddr: number;
  /** The filesystem's byte offset on the medium. */
  fsOffset: number;
  size: number;
}

export function labelKey(fsObjId: number, metaAddr: number): string {
  return `${fsObjId}:${metaAddr}`;
}

/** The root entries of FAT filesystems named "… (Volume Label Entry)" in a tsk_loaddb database. */
export function volumeLabelCandidates(dbPath: string): LabelCandidate[] {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT f.fs_obj_id, f.meta_addr, f.size, f.name, i.img_offset FROM tsk_files f JOIN tsk_fs_info i ON i.obj_id = f.fs_obj_id
         WHERE f.type = 0 AND f.parent_path = '/' AND f.meta_addr IS NOT NULL AND i.fs_type IN (${FAT_TYPES.join(', ')})`,
      )
      .all() as { fs_obj_id: number; meta_addr: number; size: number | null; name: string; img_offset: number }[];
    return rows
      .filter((r) => r.name.endsWith(LABEL_SUFFIX))
      .map((r) => ({ fsObjId: r.fs_obj_id, metaAddr: r.meta_addr, fsOffset: r.img_offset, size: r.size ?? 0 }));
  } finally {
    db.close();
  }
}

/**
 * Whether istat's output describes a volume label ("File Attributes: Volume Label"; a file says "File, Archive").
 * With no such line (istat could not read the entry) a label is guessed by its having no data, as a label has none.
 */
export function isVolumeLabel(istatOutput: string, candidate: LabelCandidate): boolean {
  const attributes = /^File Attributes: (.*)$/m.exec(istatOutput);
  return attributes ? /\bVolume Label\b/.test(attributes[1]) : candidate.size === 0;
}
