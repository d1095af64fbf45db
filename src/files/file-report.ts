// The join: each entry's byte runs against where the medium's bytes stand, giving per entry the bytes rescued,
// bad and untried, and a verdict. "intact" is only ever said of bytes we hold: an entry is "unknown" when it lies
// under a directory whose own bytes are not all rescued (its listing came from bytes we do not have), when TSK
// could not read its metadata or place all its bytes, or when its data is resident in metadata not all read.
// An update after new reads recomputes only the entries whose runs touch the changed ranges (runs are indexed by
// start, with a running maximum of ends for stabbing: layout-index.ts), plus the resident ones. The work over all
// entries is written as generators (turns.ts): at once for the offline report, a batch per turn in a mount server.
import type { DamageSource } from './damage-source';
import type { EntryKind, FilesystemInfo, LayoutEntry, MediumLayout } from './layout';
import { holesUnlisted, indexLayout, LayoutIndex } from './layout-index';
import { BATCH, runAtOnce, runInTurns, Steps } from './turns';

/** Where partition tables and filesystems say what they are (an ISO9660 volume descriptor is at 32 KiB). */
const HEAD_BYTES = 64 * 1024;

export type Verdict = 'intact' | 'damaged' | 'incomplete' | 'unknown';

export interface EntryReport {
  fs: number;
  path: string;
  kind: EntryKind;
  size: number;
  rescued: number;
  bad: number;
  untried: number;
  verdict: Verdict;
  /** Why the verdict is "unknown" (e.g. the directory whose bytes are missing). */
  reason?: string;
}

export interface ReportSummary {
  files: number;
  intact: number;
  damaged: number;
  incomplete: number;
  unknown: number;
  /** Directories whose own bytes are bad or untried: their listing is incomplete. */
  unreadableDirectories: number;
  /** Bad bytes on the medium outside every listed file, directory and metadata file (free space, gaps). */
  badBytesOutsideFiles: number;
}

/** A filesystem with the damage in its own structures: bytes outside every listed entry and its free space. */
export interface FilesystemReport extends FilesystemInfo {
  /**
   * Bad / untried bytes of the filesystem's structures (inode tables, allocation maps, journal, …): where TSK read
   * them from bad or missing sectors, files may be missing from the list, or listed wrongly.
   */
  structureBad: number;
  structureUntried: number;
  /** Bad / untried bytes of its metadata files ($MFT, $FAT1, …; listed as entries of kind "metadata"). */
  metadataBad: number;
  metadataUntried: number;
}

export interface FileReportJson {
  filesystems: FilesystemReport[];
  problems: string[];
  summary: ReportSummary;
  entries: EntryReport[];
  /** A mount's report with no layout (TSK failed, or was stopped): why. Its empty lists are no "nothing damaged". */
  layoutError?: string;
}

export class FileReport {
  private readonly entries: LayoutEntry[];
  private readonly counts: Float64Array; // 3 per entry: rescued, bad, untried
  private readonly verdicts: Verdict[];
  private readonly reasons: (string | undefined)[];
  private readonly index: LayoutIndex;

  /** @param indexed  the layout's index, built in turns by inTurns, which then joins in turns too. */
  constructor(
    readonly layout: MediumLayout,
    private damage: DamageSource,
    indexed?: LayoutIndex,
  ) {
    this.entries = layout.entries;
    this.counts = new Float64Array(this.entries.length * 3);
    this.verdicts = new Array<Verdict>(this.entries.length).fill('intact');
    this.reasons = new Array<string | undefined>(this.entries.length);
    this.index = indexed ?? runAtOnce(indexLayout(layout));
    if (!indexed) this.recomputeAll();
  }

  /** The same report, built a batch of entries per event-loop turn (the mount server's loop serves every read). */
  static async inTurns(layout: MediumLayout, damage: DamageSource): Promise<FileReport> {
    const report = new FileReport(layout, damage, await runInTurns(indexLayout(layout)));
    await runInTurns(report.joinAll(damage));
    return report;
  }

  /** Joins everything again (e.g. against another damage source). */
  recomputeAll(damage: DamageSource = this.damage): void {
    runAtOnce(this.joinAll(damage));
  }

  private *joinAll(damage: DamageSource): Steps<void> {
    this.damage = damage;
    for (let i = 0; i < this.entries.length; i++) {
      this.recount(i);
      if (i % BATCH === BATCH - 1) yield;
    }
    yield* this.judge();
  }

  /** After new reads: recomputes the entries whose runs touch any of the byte ranges [start, end). */
  update(ranges: readonly { start: number; end: number }[], damage: DamageSource = this.damage): void {
    this.damage = damage;
    const touched = new Set<number>();
    const { runStart, runEnd, runEntry, maxEnd } = this.index;
    for (const { start, end } of ranges) {
      // First run whose running max end exceeds `start`: no run before it reaches the range.
      let lo = 0;
      let hi = maxEnd.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (maxEnd[mid] <= start) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < runStart.length && runStart[i] < end; i++) {
        if (runEnd[i] > start) touched.add(runEntry[i]);
      }
    }
    // Resident data is judged by the structures around it: a read there touches no run, yet may settle it.
    if (touched.size === 0 && this.index.resident.length === 0) return;
    let directoryChanged = false;
    for (const i of touched) {
      const before = this.missing(i);
      this.recount(i);
      if (this.entries[i].kind === 'directory' && before !== this.missing(i)) directoryChanged = true;
    }
    runAtOnce(this.judge(directoryChanged ? undefined : touched));
  }

  /** Directories whose own bytes are not all rescued (their listing may be incomplete), by path per filesystem. */
  unreadableDirectories(): string[] {
    return runAtOnce(this.unreadableDirectorySteps());
  }

  unreadableDirectoriesInTurns(): Promise<string[]> {
    return runInTurns(this.unreadableDirectorySteps());
  }

  private *unreadableDirectorySteps(): Steps<string[]> {
    const out: string[] = [];
    for (let i = 0; i < this.entries.length; i++) {
      if (this.listingUnreadable(i)) out.push(`${this.entries[i].fs}:${this.entries[i].path}`);
      if (i % BATCH === BATCH - 1) yield;
    }
    return out;
  }

  /** A directory whose own bytes are not all rescued, or whose data TSK could not find: its listing may be incomplete. */
  private listingUnreadable(i: number): boolean {
    const e = this.entries[i];
    return e.kind === 'directory' && (this.missing(i) || e.unreadableMetadata !== undefined);
  }

  private missing(i: number): boolean {
    return this.counts[3 * i + 1] + this.counts[3 * i + 2] > 0;
  }

  private recount(i: number): void {
    const runs = this.entries[i].runs;
    let bad = 0;
    let untried = 0;
    let located = this.entries[i].holeBytes ?? 0; // holes: zeros, not on the medium
    for (let k = 0; k < runs.length; k += 2) {
      located += runs[k + 1];
      this.damage.forEachUnfinished(runs[k], runs[k] + runs[k + 1], (len, status) => {
        if (status === '-') bad += len;
        else untried += len;
      });
    }
    this.counts[3 * i] = located - bad - untried;
    this.counts[3 * i + 1] = bad;
    this.counts[3 * i + 2] = untried;
  }

  /** Bytes of the entry's runs past the end of the medium: never read, and not on it to read. */
  private pastEnd(i: number): number {
    const runs = this.entries[i].runs;
    let n = 0;
    for (let k = 0; k < runs.length; k += 2) n += Math.max(0, runs[k] + runs[k + 1] - Math.max(runs[k], this.damage.size));
    return n;
  }

  /** Placed only in part on a filesystem that maps holes in its metadata: the rest is holes (layout-index.ts). */
  private holesUnlisted(i: number): boolean {
    return holesUnlisted(this.layout, this.entries[i]);
  }

  /** Content bytes TSK gave no place for: size less runs and holes. */
  private unlocated(i: number): number {
    return this.entries[i].size - this.counts[3 * i] - this.counts[3 * i + 1] - this.counts[3 * i + 2];
  }

  /**
   * Per filesystem, where resident file data may sit (its structures outside entries, or $MFT on NTFS — a $LogFile
   * sector has nothing to do with it): 'bad' if any of it is bad, 'untried' if some is not read yet, else 'ok'.
   */
  private residentState(): ('ok' | 'untried' | 'bad')[] {
    const state = this.filesystemReports().map((f) => (f.structureBad > 0 ? 'bad' : f.structureUntried > 0 ? 'untried' : 'ok'));
    this.entries.forEach((e, i) => {
      if (e.kind !== 'metadata' || e.path !== '/$MFT' || !this.missing(i)) return;
      if (this.counts[3 * i + 1] > 0) state[e.fs] = 'bad';
      else if (state[e.fs] === 'ok') state[e.fs] = 'untried';
    });
    return state;
  }

  /** Per filesystem, the bytes of its structures and metadata files that are bad or untried. */
  private metadataMissing(): number[] {
    return this.filesystemReports().map((f) => f.structureBad + f.structureUntried + f.metadataBad + f.metadataUntried);
  }

  /**
   * Why TSK could not read an entry. Only a sector not rescued among the filesystem's metadata can be to blame; with
   * all of it rescued the failure is TSK's (4.x fails on some ext4 extent trees of more than one leaf, with no
   * error): a limit of this report, which must not send anyone looking for damage the medium does not have.
   */
  private unreadableReason(i: number, missing: number): string {
    const e = this.entries[i];
    const inode = e.unreadableMetadata === 'inode';
    if (missing > 0) {
      const what = inode ? 'its inode or record' : 'where its data lies: indirect, extent or FAT blocks, attribute list';
      return `The Sleuth Kit could not read its metadata (${what}); ${missing} bytes of the filesystem's metadata are bad or not read, which may be why: size and contents unknown`;
    }
    const why = inode
      ? 'its inode or record (corrupt, or beyond TSK)'
      : `where its data lies (${this.layout.filesystems[e.fs]?.type === 'ext4' ? 'TSK 4 cannot follow some ext4 extent trees of more than one leaf' : 'corrupt, or beyond TSK'})`;
    return `not damage on the medium: every sector of the filesystem's metadata is rescued, yet The Sleuth Kit could not make out ${why}; a limit of this report: size and contents unknown`;
  }

  /** Verdicts from the counts, then "unknown" under every directory with missing bytes. */
  private *judge(only?: ReadonlySet<number>): Steps<void> {
    const badDirs = new Map<string, string>();
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (this.listingUnreadable(i)) badDirs.set(`${e.fs}:${e.path}`, e.path);
      if (i % BATCH === BATCH - 1) yield;
    }
    let residentAt: ('ok' | 'untried' | 'bad')[] | undefined;
    let metadataMissing: number[] | undefined;
    const visit = (i: number) => {
      const e = this.entries[i];
      const bad = this.counts[3 * i + 1];
      const untried = this.counts[3 * i + 2];
      let verdict: Verdict = bad > 0 ? 'damaged' : untried > 0 ? 'incomplete' : 'intact';
      let reason: string | undefined;
      const unlocated = e.kind === 'file' || e.kind === 'other' ? this.unlocated(i) : 0;
      if (e.unreadableMetadata) {
        verdict = 'unknown';
        reason = this.unreadableReason(i, (metadataMissing ??= this.metadataMissing())[e.fs]);
      } else if (this.layout.filesystems[e.fs]?.type === 'YAFFS2' && e.kind !== 'directory') {
        // tsk_loaddb places a YAFFS2 chunk at chunk x page size, but it lies at chunk x (page + spare area): the join
        // would judge other bytes than the file's, and could call it intact on bytes not rescued.
        verdict = 'unknown';
        reason = "on YAFFS2, The Sleuth Kit's byte positions of its data leave out the flash spare areas: blkfs cannot tell where its bytes lie";
      } else if (unlocated > 0 && e.runs.length > 0 && !this.holesUnlisted(i)) {
        verdict = 'unknown';
        reason = `The Sleuth Kit placed only ${e.size - unlocated} of its ${e.size} bytes (a broken allocation chain?)`;
      } else if (verdict !== 'damaged' && this.pastEnd(i) > 0) {
        verdict = 'unknown';
        reason =
          `${this.pastEnd(i)} of its bytes lie past the end of the medium (${this.damage.size} bytes): its filesystem is ` +
          'larger than the medium (a truncated image, or a wrong partition table?)';
      } else if (unlocated > 0 && (residentAt ??= this.residentState())[e.fs] !== 'ok') {
        // Resident or inline data: judged by where it sits. (Live, TSK has read the records it listed; the
        // untried bytes are others — "incomplete" until the passes have read them too.)
        const isBad = residentAt[e.fs] === 'bad';
        verdict = isBad ? 'unknown' : verdict === 'intact' ? 'incomplete' : verdict;
        const ntfs = this.layout.filesystems[e.fs]?.type === 'NTFS';
        const where =
          e.runs.length === 0
            ? "its data is stored inside the filesystem's metadata (resident or inline)"
            : ntfs
              ? 'where its data lies (sparse or compressed) is stored in $MFT'
              : "where its data lies (a sparse file) is stored in the filesystem's metadata (inode and block map)";
        reason = `${where}, which is ${isBad ? 'partly bad' : 'not all read yet'}`;
      }
      if (verdict !== 'unknown' && badDirs.size > 0 && e.kind !== 'metadata') {
        for (let p = parentOf(e.path); p !== undefined; p = parentOf(p)) {
          const dir = badDirs.get(`${e.fs}:${p}`);
          if (dir !== undefined) {
            if (verdict === 'intact' || verdict === 'incomplete') verdict = 'unknown';
            reason = `directory ${dir} is not readable: its listing may be incomplete or wrong`;
            break;
          }
        }
      }
      this.verdicts[i] = verdict;
      this.reasons[i] = reason;
    };
    if (only) for (const i of [...only, ...this.index.resident]) visit(i);
    else {
      for (let i = 0; i < this.entries.length; i++) {
        visit(i);
        if (i % BATCH === BATCH - 1) yield;
      }
    }
  }

  entry(i: number): EntryReport {
    const e = this.entries[i];
    const r: EntryReport = {
      fs: e.fs,
      path: e.path,
      kind: e.kind,
      size: e.size,
      // Resident data (and NTFS holes) judged intact was read with its filesystem's structures.
      rescued: this.counts[3 * i] + (this.verdicts[i] === 'intact' && (e.runs.length === 0 || this.holesUnlisted(i)) ? Math.max(0, this.unlocated(i)) : 0),
      bad: this.counts[3 * i + 1],
      untried: this.counts[3 * i + 2],
      verdict: this.verdicts[i],
    };
    if (this.reasons[i] !== undefined) r.reason = this.reasons[i];
    return r;
  }

  get size(): number {
    return this.entries.length;
  }

  summary(): ReportSummary {
    return runAtOnce(this.summarySteps());
  }

  summaryInTurns(): Promise<ReportSummary> {
    return runInTurns(this.summarySteps());
  }

  private *summarySteps(): Steps<ReportSummary> {
    const s: ReportSummary = { files: 0, intact: 0, damaged: 0, incomplete: 0, unknown: 0, unreadableDirectories: 0, badBytesOutsideFiles: 0 };
    let badInEntries = 0;
    // Over the union of the runs: hard links share theirs, and counted twice they hid bad bytes elsewhere.
    const inEntries = this.index.inEntries;
    for (let k = 0; k < inEntries.length; k++) {
      this.damage.forEachUnfinished(inEntries[k][0], inEntries[k][1], (len, status) => {
        if (status === '-') badInEntries += len;
      });
      if (k % BATCH === BATCH - 1) yield;
    }
    for (let i = 0; i < this.entries.length; i++) {
      if (i % BATCH === BATCH - 1) yield;
      const kind = this.entries[i].kind;
      if (this.listingUnreadable(i)) s.unreadableDirectories++;
      if (kind !== 'file' && kind !== 'other') continue;
      s.files++;
      s[this.verdicts[i]]++;
    }
    s.badBytesOutsideFiles = Math.max(0, this.damage.totalBadBytes() - badInEntries);
    return s;
  }

  toJSON(filter?: (e: EntryReport) => boolean): FileReportJson {
    return runAtOnce(this.jsonSteps(filter));
  }

  jsonInTurns(filter?: (e: EntryReport) => boolean): Promise<FileReportJson> {
    return runInTurns(this.jsonSteps(filter));
  }

  private *jsonSteps(filter?: (e: EntryReport) => boolean): Steps<FileReportJson> {
    const entries: EntryReport[] = [];
    for (let i = 0; i < this.entries.length; i++) {
      const r = this.entry(i);
      if (!filter || filter(r)) entries.push(r);
      if (i % BATCH === BATCH - 1) yield;
    }
    return { filesystems: yield* this.filesystemSteps(), problems: this.problems(), summary: yield* this.summarySteps(), entries };
  }

  /** TSK's problems; with no filesystem found, also whether the sectors that say where they are were missing. */
  private problems(): string[] {
    if (this.layout.filesystems.length > 0) return this.layout.problems;
    let missing = 0;
    this.damage.forEachUnfinished(0, Math.min(HEAD_BYTES, this.damage.size), (len) => (missing += len));
    if (missing === 0) return this.layout.problems;
    return [
      ...this.layout.problems,
      `${missing} bytes of the first 64 KiB (partition table, boot sector, superblock, ISO9660 volume descriptors) are bad or not read: ` +
        'the filesystems may be there, unseen',
    ];
  }

  /** Per filesystem: the missing bytes of its span outside its entries' runs and slack and its free space. */
  filesystemReports(): FilesystemReport[] {
    return runAtOnce(this.filesystemSteps());
  }

  private *filesystemSteps(): Steps<FilesystemReport[]> {
    const out: FilesystemReport[] = [];
    for (let fsi = 0; fsi < this.layout.filesystems.length; fsi++) {
      const missing = { bad: 0, untried: 0 };
      const meta = { bad: 0, untried: 0 };
      const structures = this.index.structures[fsi];
      for (let k = 0; k < structures.length; k++) {
        this.damage.forEachUnfinished(structures[k][0], structures[k][1], (len, status) => {
          if (status === '-') missing.bad += len;
          else missing.untried += len;
        });
        if (k % BATCH === BATCH - 1) yield;
      }
      for (let i = 0; i < this.entries.length; i++) {
        if (i % BATCH === BATCH - 1) yield;
        const e = this.entries[i];
        if (e.fs !== fsi || e.kind !== 'metadata') continue;
        meta.bad += this.counts[3 * i + 1];
        meta.untried += this.counts[3 * i + 2];
      }
      out.push({
        ...this.layout.filesystems[fsi],
        structureBad: missing.bad,
        structureUntried: missing.untried,
        metadataBad: meta.bad,
        metadataUntried: meta.untried,
      });
    }
    return out;
  }
}

function parentOf(p: string): string | undefined {
  if (p === '/') return undefined;
  const cut = p.lastIndexOf('/');
  return cut <= 0 ? '/' : p.slice(0, cut);
}
