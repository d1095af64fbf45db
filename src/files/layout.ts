// The file layout of a medium as The Sleuth Kit sees it: filesystems (per partition), and per entry its path,
// size and byte runs in absolute medium offsets. Plain data, produced by tsk-loaddb.ts, joined by file-report.ts.

/** What an entry is: a regular file, a directory, or filesystem metadata TSK exposes as a virtual file ($FAT1, $MFT…). */
export type EntryKind = 'file' | 'directory' | 'metadata' | 'other';

export interface LayoutEntry {
  /** Index into MediumLayout.filesystems. */
  fs: number;
  /** Absolute path inside its filesystem ("/" for the root directory). */
  path: string;
  kind: EntryKind;
  /** Content size in bytes (for directories, the size of their own entries). */
  size: number;
  /** Byte runs of the content as [start, length] pairs, absolute medium offsets, clipped to `size`, in file order. */
  runs: number[];
  /** Bytes of sparse holes: not on the medium, known to be zeros. */
  holeBytes?: number;
  /** The rest of the last blocks past `size` (slack): neither file content nor free space nor structure. */
  slack?: number[];
  /**
   * TSK listed the name but could not read what it points to: its inode or record ('inode'), or where its data lies
   * ('layout': an indirect or extent block, an attribute list). Size and runs unknown. The cause may be a sector not
   * rescued, or TSK itself (4.x cannot follow some ext4 extent trees of more than one level).
   */
  unreadableMetadata?: 'inode' | 'layout';
}

export interface PartitionInfo {
  /** 1 for the first partition in the table, 2 for the next, … */
  slot: number;
  /** Byte offset and length on the medium. */
  offset: number;
  length: number;
  description: string;
}

export interface FilesystemInfo {
  /** Byte offset of the filesystem on the medium. */
  offset: number;
  /** e.g. "ext4", "FAT12", "ISO9660". */
  type: string;
  blockSize: number;
  /** Bytes the filesystem spans (block size × block count). */
  size: number;
  partition?: PartitionInfo;
}

export interface MediumLayout {
  filesystems: FilesystemInfo[];
  entries: LayoutEntry[];
  /** Per filesystem (same index), its free space as [start, length] pairs in absolute medium offsets. */
  free: number[][];
  /** Plain sentences for what TSK could not read (a partition with no filesystem it knows, e.g. UDF). */
  problems: string[];
}

/** TSK_FS_TYPE_ENUM (tsk/fs/tsk_fs.h), the values tsk_fs_info.fs_type holds. */
const FS_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0x1, 'NTFS'],
  [0x2, 'FAT12'],
  [0x4, 'FAT16'],
  [0x8, 'FAT32'],
  [0xa, 'exFAT'],
  [0x10, 'UFS1'],
  [0x20, 'UFS1b'],
  [0x40, 'UFS2'],
  [0x80, 'ext2'],
  [0x100, 'ext3'],
  [0x200, 'swap'],
  [0x400, 'raw'],
  [0x800, 'ISO9660'],
  [0x1000, 'HFS+'],
  [0x2000, 'ext4'],
  [0x4000, 'YAFFS2'],
]);

export function fsTypeName(code: number): string {
  return FS_TYPE_NAMES.get(code) ?? `TSK type 0x${code.toString(16)}`;
}
