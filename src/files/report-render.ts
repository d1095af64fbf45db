// The file report for people (a table), for spreadsheets (CSV) and for scripts (JSON).
import type { EntryReport, FileReportJson, FilesystemReport } from './file-report';
import type { FilesystemInfo } from './layout';
import { visibleName } from '../visible-text';

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
  const out: string[] = [];
  report.filesystems.forEach((f, i) => {
    out.push(describeFilesystem(f, i));
    const note = structureNote(f);
    if (note) out.push(`  ${note}`);
  });
  for (const p of report.problems) out.push(`not read: ${visibleName(p)}`);
  const rows = report.entries.filter((e) => worthListing(e, damagedOnly));
  if (rows.length > 0) {
    const cells = rows.map((e) => [
      e.kind === 'directory' ? `${e.verdict} dir` : e.kind === 'metadata' ? `${e.verdict} meta` : e.verdict,
      String(e.size),
      String(e.bad),
      String(e.untried),
      // Names are the medium's: read on a terminal, a control or bidi character in one must not act.
      visibleName(report.filesystems.length > 1 ? `${e.fs + 1}:${e.path}` : e.path),
    ]);
    const head = ['VERDICT', 'SIZE', 'BAD', 'UNTRIED', 'PATH'];
    // A loop, not Math.max(...cells): a call's arguments overflow the stack at a few 100,000 files.
    const widths = head.map((h) => h.length);
    for (const r of cells) r.forEach((v, c) => (widths[c] = Math.max(widths[c], v.length)));
    const line = (r: string[]) =>
      r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : c === r.length - 1 ? v : v.padStart(widths[c]))).join('  ');
    out.push(line(head));
    rows.forEach((r, k) => {
      out.push(line(cells[k]));
      if (r.reason) out.push(`  (${visibleName(r.reason)})`);
    });
  }
  const s = report.summary;
  out.push(
    `${s.files} files: ${s.intact} intact, ${s.damaged} damaged, ${s.incomplete} incomplete, ${s.unknown} unknown` +
      (s.unreadableDirectories ? `; ${s.unreadableDirectories} unreadable director${s.unreadableDirectories === 1 ? 'y' : 'ies'}` : '') +
      `; ${s.badBytesOutsideFiles} bad bytes outside files`,
  );
  return out.join('\n') + '\n';
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
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of report.entries) {
    lines.push([e.fs + 1, e.path, e.kind, e.size, e.rescued, e.bad, e.untried, e.verdict, e.reason ?? ''].map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

export function renderJson(report: FileReportJson): string {
  return JSON.stringify(report, null, 1) + '\n';
}
