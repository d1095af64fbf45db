// The file report for people (a table), for spreadsheets (CSV) and for scripts (JSON).
import type { EntryReport, FileReportJson, FilesystemReport } from './file-report';
import type { FilesystemInfo } from './layout';
import { setImmediate as nextTurn } from 'timers/promises';
import { visibleName } from '../visible-text';
import { runAtOnce, runInTurns, Steps } from './turns';

/** Rows rendered between two turns of the event loop (a row of JSON costs ~20 µs on a slow core). */
const ROWS_PER_TURN = 1_000;

/** What a person asks to see: files (and odd entries) always, directories and metadata only when not intact. */
export function worthListing(e: EntryReport, damagedOnly: boolean): boolean {
  if (damagedOnly && e.verdict === 'intact') return false;
  if (e.kind === 'directory' || e.kind === 'metadata') return e.verdict !== 'intact';
  return true;
}

export function describeFilesystem(f: FilesystemInfo, index: number): string {
  const where = f.partition
    ? `partition ${f.partition.slot} (${visibleName(f.partition.description)}) at byte ${f.offset}` // a GPT name is the medium's
    : `at byte ${f.offset}`;
  return `filesystem ${index + 1}: ${f.type} ${where}`;
}

export function renderText(report: FileReportJson, damagedOnly: boolean): string {
  return runAtOnce(textChunks(report, damagedOnly)).join('');
}

/** The rendering, a batch of rows per event-loop turn (a mount server's loop serves every read of the mount). */
export async function renderInTurns(format: 'txt' | 'csv' | 'json', report: FileReportJson): Promise<Buffer> {
  const chunks = await runInTurns(format === 'txt' ? textChunks(report, false) : format === 'csv' ? csvChunks(report) : jsonChunks(report));
  const bytes: Buffer[] = [];
  for (const chunk of chunks) {
    bytes.push(Buffer.from(chunk, 'utf8'));
    await nextTurn();
  }
  return Buffer.concat(bytes);
}

/** Lines gathered into chunks of ROWS_PER_TURN lines, each line ended by `eol`: the renderings' output, joined or in turns. */
class ChunkedLines {
  readonly chunks: string[] = [];
  private lines: string[] = [];

  constructor(private readonly eol: string) {}

  /** Adds a line; true when a chunk is full (time to yield). */
  push(line: string): boolean {
    this.lines.push(line);
    if (this.lines.length < ROWS_PER_TURN) return false;
    this.end();
    return true;
  }

  end(): string[] {
    if (this.lines.length > 0) this.chunks.push(this.lines.join(this.eol) + this.eol);
    this.lines = [];
    return this.chunks;
  }
}

function* textChunks(report: FileReportJson, damagedOnly: boolean): Steps<string[]> {
  const out = new ChunkedLines('\n');
  report.filesystems.forEach((f, i) => {
    out.push(describeFilesystem(f, i));
    const note = structureNote(f);
    if (note) out.push(`  ${note}`);
  });
  for (const p of report.problems) out.push(`not read: ${visibleName(p)}`);
  const rows = report.entries.filter((e) => worthListing(e, damagedOnly));
  if (rows.length > 0) {
    const head = ['VERDICT', 'SIZE', 'BAD', 'UNTRIED', 'PATH'];
    // A loop, not Math.max(...cells): a call's arguments overflow the stack at a few 100,000 files.
    const widths = head.map((h) => h.length);
    const cells: string[][] = [];
    for (const e of rows) {
      const r = [
        e.kind === 'directory' ? `${e.verdict} dir` : e.kind === 'metadata' ? `${e.verdict} meta` : e.verdict,
        String(e.size),
        String(e.bad),
        String(e.untried),
        // Names are the medium's: read on a terminal, a control or bidi character in one must not act.
        visibleName(report.filesystems.length > 1 ? `${e.fs + 1}:${e.path}` : e.path),
      ];
      r.forEach((v, c) => (widths[c] = Math.max(widths[c], v.length)));
      if (cells.push(r) % ROWS_PER_TURN === 0) yield;
    }
    const line = (r: string[]) =>
      r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : c === r.length - 1 ? v : v.padStart(widths[c]))).join('  ');
    out.push(line(head));
    for (let k = 0; k < rows.length; k++) {
      const reason = rows[k].reason;
      if (out.push(line(cells[k]))) yield;
      if (reason) out.push(`  (${visibleName(reason)})`);
    }
  }
  const s = report.summary;
  out.push(
    `${s.files} files: ${s.intact} intact, ${s.damaged} damaged, ${s.incomplete} incomplete, ${s.unknown} unknown` +
      (s.unreadableDirectories ? `; ${s.unreadableDirectories} unreadable director${s.unreadableDirectories === 1 ? 'y' : 'ies'}` : '') +
      `; ${s.badBytesOutsideFiles} bad bytes outside files`,
  );
  return out.end();
}

/** Says when the filesystem's own structures are not all read: then the list itself may be incomplete. */
export function structureNote(f: FilesystemReport): string | undefined {
  const bad = f.structureBad + f.metadataBad;
  const untried = f.structureUntried + f.metadataUntried;
  if (bad > 0) {
    return (
      `${bad} bad bytes in its structures (inode tables, allocation maps, $MFT, journal…)` +
      `${untried > 0 ? ` and ${untried} not read yet` : ''}: files may be missing from this list, or listed wrongly`
    );
  }
  // Not an alarm: TSK reads what it needs through the cache (reserved and backup blocks stay untried until the passes).
  return untried > 0 ? `${untried} bytes of its structures not read yet` : undefined;
}

const CSV_COLUMNS = ['filesystem', 'path', 'kind', 'size', 'rescued', 'bad', 'untried', 'verdict', 'reason'] as const;

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(report: FileReportJson): string {
  return runAtOnce(csvChunks(report)).join('');
}

function* csvChunks(report: FileReportJson): Steps<string[]> {
  const out = new ChunkedLines('\r\n');
  out.push(CSV_COLUMNS.join(','));
  for (const e of report.entries) {
    if (out.push([e.fs + 1, e.path, e.kind, e.size, e.rescued, e.bad, e.untried, e.verdict, e.reason ?? ''].map(csvCell).join(','))) yield;
  }
  return out.end();
}

export function renderJson(report: FileReportJson): string {
  return runAtOnce(jsonChunks(report)).join('');
}

/**
 * JSON.stringify(report, null, 1), the entries stringified a batch at a time: the report with no entries, its
 * "entries": [] then replaced by the entries, each indented to its depth (strings in JSON hold no raw newline).
 */
function* jsonChunks(report: FileReportJson): Steps<string[]> {
  const outline = JSON.stringify({ ...report, entries: [] }, null, 1) + '\n';
  if (report.entries.length === 0) return [outline];
  const slot = '\n "entries": []';
  const at = outline.indexOf(slot);
  const chunks = [outline.slice(0, at) + '\n "entries": ['];
  for (let i = 0; i < report.entries.length; i += ROWS_PER_TURN) {
    const batch = report.entries.slice(i, i + ROWS_PER_TURN).map((e) => '\n  ' + JSON.stringify(e, null, 1).replace(/\n/g, '\n  '));
    chunks.push((i > 0 ? ',' : '') + batch.join(','));
    yield;
  }
  chunks.push('\n ]' + outline.slice(at + slot.length));
  return chunks;
}
