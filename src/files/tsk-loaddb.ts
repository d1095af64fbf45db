// Reads a medium's file layout with The Sleuth Kit: `tsk_loaddb` (a child process, never waited on
// synchronously — it may be reading our own FUSE mount) writes a SQLite database, read here with better-sqlite3.
// One run covers a partition table and every filesystem in it (tsk_vs_parts, tsk_fs_info). Checked on TSK 4.11:
// a regular file's runs are attached to its "<name>-slack" row (type 7) and cover the slack too, so they are
// clipped to the file's size; their offsets are relative to the filesystem (tsk_fs_info.img_offset is added), while
// the free-space rows' (Unalloc_<id>_<start>_<end>) are already absolute.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { setImmediate as nextTurn } from 'timers/promises';
import Database from 'better-sqlite3';
import { OperationError } from '../errors';
import { EntryKind, FilesystemInfo, LayoutEntry, MediumLayout, PartitionInfo, fsTypeName } from './layout';
import { cLocaleEnv, withoutFuseFds } from '../clean-spawn';
import { makeOwnedTempDir } from '../temp-dirs';
import { isVolumeLabel, labelKey, volumeLabelCandidates } from './fat-volume-label';

/** Rows read between two turns of the event loop: a row costs ~10 µs (SQLite's step, its object) on a slow core. */
const ROWS_PER_TURN = 2_000;

/** tsk_files.type: TSK_DB_FILES_TYPE_FS, _UNALLOC_BLOCKS (free space) and _SLACK. */
const TYPE_FS = 0;
const TYPE_UNALLOC = 4;
const TYPE_SLACK = 7;
/** tsk_files.meta_type: TSK_FS_META_TYPE_UNDEF (its metadata could not be read), _REG, _DIR, _VIRT, _VIRT_DIR. */
const META_UNDEF = 0;
const META_REG = 1;
const META_DIR = 2;
const META_VIRT = 10;
const META_VIRT_DIR = 11;
/**
 * tsk_files.attr_type TSK_FS_ATTR_TYPE_NOT_FOUND: TSK could not load the entry's data attribute (an ext2 indirect
 * block, an extent tree block, an NTFS attribute list unreadable; or, with every sector read, an ext4 extent tree
 * of more than one leaf: "No filler entry for 0"). It then writes size 0 and no runs, as for an empty file (which
 * has the default attribute, type 1), so the entry is as unknown as one whose inode is unreadable.
 */
const ATTR_NOT_FOUND = 0;
/** TSK_FS_ATTR_TYPE_DEFAULT: a non-NTFS file's data, named only when ext4 keeps it inline (see withoutInlineSuffix). */
const ATTR_DEFAULT = 1;
const INLINE_SUFFIX = ':DATA';
/** tsk_files.dir_flags: TSK_FS_NAME_FLAG_ALLOC (deleted names are left out: their runs may belong to others now). */
const NAME_ALLOC = 1;
/** NTFS keeps its structures in files: $MFT, $LogFile, $Bitmap, … in the root, and everything under $Extend. */
const NTFS_ROOT_DOLLAR = /^\/\$[A-Za-z]+(:.*)?$/;
const NTFS_EXTEND = /^\/\$Extend(\/.*)?$/;
/** MFT entries below this are NTFS's own files ($MFT is 0, $Extend 11, 12-15 reserved); users' files come after. */
const NTFS_FIRST_USER_ENTRY = 16;

/**
 * Whether an NTFS path is one of the filesystem's own files (its structures, not a file of the user's): $Extend and
 * what is under it, and root names such as $MFT that are also among its first MFT entries. A user's own "/$Notes",
 * or Windows' "/$WinREAgent" folder, were taken for structures by name alone and left out of the file counts.
 */
export function isNtfsSystemFile(path: string, metaAddr: number | null): boolean {
  return NTFS_EXTEND.test(path) || (NTFS_ROOT_DOLLAR.test(path) && metaAddr !== null && metaAddr < NTFS_FIRST_USER_ENTRY);
}
/** tsk_vs_parts.flags: TSK_VS_PART_FLAG_ALLOC (a real partition, not the table itself or a gap). */
const PART_ALLOC = 1;

export interface TskRunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** TSK was stopped on purpose (the mount is going away); nothing is wrong with the medium. */
export class TskStoppedError extends OperationError {
  constructor() {
    super('The Sleuth Kit was stopped');
    this.name = 'TskStoppedError';
  }
}

/**
 * Runs a TSK tool without blocking the event loop; rejects when it cannot be started, or when `signal` stops it
 * (then only once it has exited: a TSK still reading /raw would keep the mount busy). `batch`: at nice TSK_NICE.
 */
export function runTskTool(tool: string, args: readonly string[], signal?: AbortSignal, batch = false): Promise<TskRunResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new TskStoppedError());
    // Never with the server's /dev/fuse fd: a TSK outliving a killed server would hang the mount (clean-spawn.ts).
    const clean = withoutFuseFds(tool, args);
    const child = spawn(clean.command, clean.args, { stdio: ['ignore', 'pipe', 'pipe'], env: cLocaleEnv() });
    if (batch) lowerPriority(child.pid);
    const stop = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', stop, { once: true });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      if (stdout.length < 64 * 1024) stdout += s;
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 64 * 1024) stderr += s;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', stop);
      reject(
        err.code === 'ENOENT'
          ? new OperationError(`${tool} not found: The Sleuth Kit is needed for the file report (Debian: apt-get install sleuthkit)`)
          : new OperationError(`cannot run ${tool}: ${err.message}`),
      );
    });
    child.on('close', (code, killedBy) => {
      signal?.removeEventListener('abort', stop);
      if (signal?.aborted) reject(new TskStoppedError());
      // Killed before it finished (Ctrl-C reaches it with us, the OOM killer, a crash): what it wrote is no whole
      // layout, and a layout missing files must not be taken for the medium's.
      else if (killedBy) reject(new OperationError(`${tool} was killed by ${killedBy} before it finished`));
      else if (clean.wrapped && code === 127 && /not found/.test(stderr)) {
        reject(new OperationError(`${tool} not found: The Sleuth Kit is needed for the file report (Debian: apt-get install sleuthkit)`));
      } else resolve({ exitCode: code, stdout, stderr });
    });
  });
}

export interface LayoutReadOptions {
  /**
   * Skip TSK's YAFFS2 probe. Its filesystem autodetection tries every type, and the YAFFS2 probe reads 64 KiB
   * every 132 KiB over the first ~26 MB of each volume (measured on 4.11: 9 of 16 MiB of an ext4) — on a
   * fragile medium, reads that have nothing to do with its filesystem. TSK looks for "<image>-yaffs2.config"
   * beside the image first and gives up on YAFFS2 at once when a value does not parse (a parsable but wrong one,
   * e.g. a page size of 0, still probes), so TSK is pointed at a symlink with such a file beside it. (YAFFS2 —
   * raw NAND dumps — is then not recognised.)
   */
  skipYaffs2Probe?: boolean;
  /** Stops TSK (the promise rejects with TskStoppedError once it has exited). */
  signal?: AbortSignal;
  /** TSK runs at nice TSK_NICE: beside a mount's copying pass and readers (not for `blkfs files IMAGE`, all the user waits for). */
  batch?: boolean;
  /** The name to give the medium in messages, when TSK reads it under another path (a private mount's file). */
  label?: string;
}

/** The layout of the medium (an image file, or a mount's /raw) as The Sleuth Kit reads it. */
export async function readMediumLayout(image: string, opts: LayoutReadOptions = {}): Promise<MediumLayout> {
  const dir = await makeOwnedTempDir('blkfs-tsk-', 'tree'); // what a killed run left, the next removes
  const dbPath = path.join(dir, 'layout.db');
  try {
    let target = image;
    if (opts.skipYaffs2Probe) {
      target = path.join(dir, 'medium');
      await fs.promises.symlink(path.resolve(image), target);
      await fs.promises.writeFile(`${target}-yaffs2.config`, 'flash_page_size = not-yaffs2\n');
    }
    // Not -k: that drops tsk_file_layout, the very table read here.
    const run = await runTskTool('tsk_loaddb', ['-d', dbPath, target], opts.signal, opts.batch);
    const shown = opts.label ?? image;
    // TSK names the path it read ('raw_read: file "/tmp/…/medium" offset: …'): the user's name for it instead.
    const tskErrors = errorLines(run.stderr).map((l) => l.split(target).join(shown));
    if (!fs.existsSync(dbPath)) {
      throw new OperationError(`The Sleuth Kit could not read ${shown}: ${tskErrors.join('; ') || `tsk_loaddb exited with ${run.exitCode}`}`);
    }
    return await readLayoutDb(dbPath, tskErrors, await fatVolumeLabels(dbPath, target, opts));
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** Which FAT root entries named "… (Volume Label Entry)" are the volume label, by istat's word (labelKey). */
async function fatVolumeLabels(dbPath: string, target: string, opts: LayoutReadOptions): Promise<Set<string>> {
  const labels = new Set<string>();
  for (const c of volumeLabelCandidates(dbPath)) {
    // -o is in 512-byte sectors: a partition starts on one, whatever the medium's sector size.
    const run = await runTskTool('istat', ['-f', 'fat', '-o', String(c.fsOffset / 512), target, String(c.metaAddr)], opts.signal, opts.batch);
    if (isVolumeLabel(run.stdout, c)) labels.add(labelKey(c.fsObjId, c.metaAddr));
  }
  return labels;
}

/**
 * A mount's TSK is batch work beside the copying pass and the readers it serves: on a fast medium both cores are busy, and at
 * nice 0 its CPU came out of the pass (acquire of a 512 MiB page-cached image, medians of alternating rounds: 35 ms
 * faster at nice 10 over 12 rounds, 14 ms at nice 19 over 8). It gets a core whenever one is free, as it does on a
 * slow device, where it waits on reads.
 */
const TSK_NICE = 10;

function lowerPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    os.setPriority(pid, TSK_NICE);
  } catch {
    // Already exited (ESRCH): nothing to lower.
  }
}

function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('Error'))
    .map((l) => l.replace(/^Error:\s*/, ''));
}

/** At most this many of TSK's distinct error lines are named: one unreadable sector may repeat in many. */
const MAX_TSK_ERRORS = 5;

/**
 * TSK's errors on a filesystem it found: an unreadable NTFS MFT record ends its whole directory walk ("Error walking
 * directory"), so the list may lack any number of files, even all of them; the report must say so, not "0 files".
 */
function walkProblems(errors: readonly string[]): string[] {
  const distinct = [...new Set(errors)];
  if (distinct.length === 0) return [];
  const more = distinct.length > MAX_TSK_ERRORS ? `; and ${distinct.length - MAX_TSK_ERRORS} more` : '';
  return [`part of the filesystem metadata, so files may be missing from this list (The Sleuth Kit: ${distinct.slice(0, MAX_TSK_ERRORS).join('; ')}${more})`];
}

interface FileRow {
  obj_id: number;
  fs_obj_id: number | null;
  name: string;
  parent_path: string | null;
  meta_type: number | null;
  type: number;
  size: number | null;
  meta_addr: number | null;
  dir_flags: number | null;
  attr_type: number | null;
}

/**
 * Reads a tsk_loaddb database into a MediumLayout; `tskErrors` are the tool's own error lines, `volumeLabels` the
 * FAT root entries that are the volume label (labelKey), not files. A batch of rows per event-loop turn: in a mount
 * server, a million files read at once held every reader of the mount for seconds.
 */
export async function readLayoutDb(dbPath: string, tskErrors: readonly string[] = [], volumeLabels: ReadonlySet<string> = new Set()): Promise<MediumLayout> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const sectorSize = (db.prepare('SELECT block_size FROM tsk_vs_info LIMIT 1').get() as { block_size: number } | undefined)?.block_size ?? 512;
    const parts = new Map<number, PartitionInfo>();
    // Numbered 1, 2, … in table order, as a person counts them (TSK's addr also counts the table and gaps).
    for (const p of db.prepare('SELECT obj_id, addr, start, length, desc, flags FROM tsk_vs_parts ORDER BY addr').all() as {
      obj_id: number;
      addr: number;
      start: number;
      length: number;
      desc: string | null;
      flags: number;
    }[]) {
      if (p.flags & PART_ALLOC) parts.set(p.obj_id, { slot: parts.size + 1, offset: p.start * sectorSize, length: p.length * sectorSize, description: p.desc ?? '' });
    }

    const filesystems: FilesystemInfo[] = [];
    const fsIndex = new Map<number, number>();
    const fsOffset = new Map<number, number>();
    const partsWithFs = new Set<number>();
    for (const f of db
      .prepare(
        'SELECT i.obj_id, i.img_offset, i.fs_type, i.block_size, i.block_count, o.par_obj_id FROM tsk_fs_info i JOIN tsk_objects o ON o.obj_id = i.obj_id ORDER BY i.img_offset',
      )
      .all() as { obj_id: number; img_offset: number; fs_type: number; block_size: number; block_count: number; par_obj_id: number | null }[]) {
      const partition = f.par_obj_id === null ? undefined : parts.get(f.par_obj_id);
      if (f.par_obj_id !== null && partition) partsWithFs.add(f.par_obj_id);
      fsIndex.set(f.obj_id, filesystems.length);
      fsOffset.set(f.obj_id, f.img_offset);
      filesystems.push({
        offset: f.img_offset,
        type: fsTypeName(f.fs_type),
        blockSize: f.block_size,
        size: f.block_size * f.block_count,
        ...(partition ? { partition } : {}),
      });
    }

    const problems: string[] = [];
    const named = new Set<string>(); // TSK's error lines a problem below already gives
    for (const [objId, p] of parts) {
      if (partsWithFs.has(objId)) continue;
      const why = tskErrors.find((e) => e.includes(`Sector offset: ${p.offset / sectorSize}`));
      if (why) named.add(why);
      problems.push(
        `partition ${p.slot} (${p.description}, ${p.length} bytes at byte ${p.offset}): The Sleuth Kit cannot read its filesystem` +
          (why ? ` (${why})` : ''),
      );
    }
    if (filesystems.length === 0 && parts.size === 0) {
      problems.push(`no filesystem The Sleuth Kit can read (UDF, for one, it cannot)${tskErrors.length ? `: ${tskErrors.join('; ')}` : ''}`);
    } else problems.push(...walkProblems(tskErrors.filter((e) => !named.has(e))));

    let rowsRead = 0;
    const batchDone = () => ++rowsRead % ROWS_PER_TURN === 0;
    const runsOf = new Map<number, number[]>();
    for (const r of db.prepare('SELECT obj_id, byte_start, byte_len FROM tsk_file_layout ORDER BY obj_id, sequence').iterate() as Iterable<{
      obj_id: number;
      byte_start: number;
      byte_len: number;
    }>) {
      let list = runsOf.get(r.obj_id);
      if (!list) runsOf.set(r.obj_id, (list = []));
      list.push(r.byte_start, r.byte_len);
      if (batchDone()) await nextTurn();
    }

    // Rows are read where they are used, the slack rows first, none kept: two million row objects kept for a second
    // pass grew the heap the collector goes through, and its pauses hold the loop as any work does.
    const filesOfType = (...types: number[]) =>
      db
        .prepare(
          `SELECT obj_id, fs_obj_id, name, parent_path, meta_type, type, size, meta_addr, dir_flags, attr_type FROM tsk_files WHERE type IN (${types.map(() => '?').join(', ')}) ORDER BY obj_id`,
        )
        .iterate(...types) as Iterable<FileRow>;
    const key = (r: FileRow, name: string) => `${r.fs_obj_id}\0${r.parent_path}\0${r.meta_addr}\0${name}`;
    const slackRuns = new Map<string, number[]>();
    for (const r of filesOfType(TYPE_SLACK)) {
      const runs = runsOf.get(r.obj_id);
      if (r.type === TYPE_SLACK && runs && r.name.endsWith('-slack')) slackRuns.set(key(r, r.name.slice(0, -'-slack'.length)), runs);
      if (batchDone()) await nextTurn();
    }

    const entries: LayoutEntry[] = [];
    const free: number[][] = filesystems.map(() => []);
    let previous: { entry: LayoutEntry; metaAddr: number | null } | undefined;
    for (const r of filesOfType(TYPE_FS, TYPE_UNALLOC)) {
      if (batchDone()) await nextTurn();
      const fsi = r.fs_obj_id === null ? undefined : fsIndex.get(r.fs_obj_id);
      if (r.type === TYPE_UNALLOC && fsi !== undefined) {
        // Absolute already: adding the filesystem's offset again put a partition's free space past where it is, so
        // its real free space counted as structures (and structures as free space). A loop, not push(...runs): a
        // call takes ~125,000 arguments at most, and TSK asked for chunks of free space puts a whole chunk's pieces in
        // one row (tsk_loaddb 4.11 writes a row per piece, but nothing here should rest on that).
        for (const n of runsOf.get(r.obj_id) ?? []) free[fsi].push(n);
      }
      if (r.type !== TYPE_FS || r.fs_obj_id === null || r.name === '.' || r.name === '..') continue;
      if (r.meta_type === META_VIRT_DIR || (r.dir_flags ?? NAME_ALLOC) !== NAME_ALLOC) continue;
      if (fsi === undefined) continue;
      const raw = runsOf.get(r.obj_id) ?? slackRuns.get(key(r, r.name)) ?? [];
      const name = filesystems[fsi].type === 'NTFS' ? r.name : withoutInlineSuffix(r, raw.length > 0);
      const p = name === '' ? '/' : `${r.parent_path ?? '/'}${name}`;
      const kind: EntryKind =
        r.meta_type === META_VIRT ||
        (filesystems[fsi].type === 'NTFS' && isNtfsSystemFile(p, r.meta_addr)) ||
        (r.meta_addr !== null && volumeLabels.has(labelKey(r.fs_obj_id, r.meta_addr)))
          ? 'metadata'
          : r.meta_type === META_REG
            ? 'file'
            : r.meta_type === META_DIR
              ? 'directory'
              : 'other';
      const size = r.size ?? 0;
      const offset = fsOffset.get(r.fs_obj_id) ?? 0;
      const split = splitRuns(raw, size, offset);
      const entry: LayoutEntry = { fs: fsi, path: p, kind, size, runs: split.runs };
      if (split.holeBytes > 0) entry.holeBytes = split.holeBytes;
      if (split.slack.length > 0) entry.slack = split.slack;
      if ((r.meta_type ?? META_UNDEF) === META_UNDEF) entry.unreadableMetadata = 'inode';
      else if (r.attr_type === ATTR_NOT_FOUND && kind !== 'metadata') entry.unreadableMetadata = 'layout';
      if (previous && isNextExtent(previous, entry, r.meta_addr, filesystems[fsi].type)) {
        appendExtent(previous.entry, entry);
        previous.metaAddr = r.meta_addr;
      } else {
        entries.push(entry);
        previous = { entry, metaAddr: r.meta_addr };
      }
    }
    return { filesystems, entries, free, problems };
  } finally {
    db.close();
  }
}

/**
 * ISO9660 stores a file of 4 GiB or more as several directory records of one name, one extent each (mkisofs -iso-level
 * 3), and TSK lists each as a file: they are one file, its extents in order (consecutive records).
 */
function isNextExtent(previous: { entry: LayoutEntry; metaAddr: number | null }, entry: LayoutEntry, metaAddr: number | null, fsType: string): boolean {
  const p = previous.entry;
  return fsType === 'ISO9660' && entry.kind === 'file' && p.kind === 'file' && p.fs === entry.fs && p.path === entry.path && metaAddr !== null && previous.metaAddr === metaAddr - 1;
}

function appendExtent(file: LayoutEntry, extent: LayoutEntry): void {
  file.size += extent.size;
  file.runs.push(...extent.runs);
  if (extent.holeBytes) file.holeBytes = (file.holeBytes ?? 0) + extent.holeBytes;
  if (extent.slack) file.slack = [...(file.slack ?? []), ...extent.slack];
  if (extent.unreadableMetadata) file.unreadableMetadata ??= extent.unreadableMetadata;
}

/**
 * The entry's own name on a filesystem other than NTFS (where ":name" is an alternate data stream, kept). tsk_loaddb
 * appends a named attribute's name, and TSK names ext4's inline data (in the inode: no runs) "DATA": "notes:DATA".
 * A name that really ends in ":DATA" keeps it: its data has runs, or (inline) TSK appended another ":DATA".
 */
function withoutInlineSuffix(r: FileRow, hasRuns: boolean): string {
  return r.attr_type === ATTR_DEFAULT && !hasRuns && r.name.endsWith(INLINE_SUFFIX) ? r.name.slice(0, -INLINE_SUFFIX.length) : r.name;
}

/**
 * Splits a file's runs (in file order, filesystem-relative) at `size`: content runs moved to absolute medium
 * offsets, the bytes of sparse holes (TSK 4.11 writes a hole as a run at filesystem byte 0, where no file's data
 * can lie: the boot sector), and the slack past the end.
 */
export function splitRuns(runs: readonly number[], size: number, offset: number): { runs: number[]; holeBytes: number; slack: number[] } {
  const out = { runs: [] as number[], holeBytes: 0, slack: [] as number[] };
  let left = size;
  for (let i = 0; i < runs.length; i += 2) {
    const [start, len] = [runs[i], runs[i + 1]];
    const inFile = Math.max(0, Math.min(len, left));
    left -= len;
    if (start === 0) {
      out.holeBytes += inFile;
      continue;
    }
    if (inFile > 0) out.runs.push(offset + start, inFile);
    if (inFile < len) out.slack.push(offset + start + inFile, len - inFile);
  }
  return out;
}
