// /files.json, /files.csv and /files.txt: the live file report (which files the bad or unread sectors hit).
// Opening one reads the filesystem layout first if nobody has yet (The Sleuth Kit on /raw, awaited without
// blocking: its reads come back through this mount), then snapshots the report of that moment for the handle.
import type { LiveFileReport } from '../files/live-report';
import { renderCsv, renderJson, renderText } from '../files/report-render';
import type { FileReportJson } from '../files/file-report';
import { FileAttr, Handle, View, ViewErrno } from './view';

export class FileReportView implements View {
  readonly kind = 'file';
  private readonly opened: Buffer[] = [];

  constructor(
    private readonly report: LiveFileReport,
    private readonly format: (r: FileReportJson) => string,
  ) {}

  /** While a handle is open, its snapshot's size (programs fstat right after open); otherwise today's, if known. */
  getattr(): FileAttr {
    const newest = this.opened[this.opened.length - 1];
    return { size: newest ? newest.length : Buffer.byteLength(this.format(this.report.snapshot())), mode: 0o444, mtime: new Date() };
  }

  async open(): Promise<Handle> {
    const bytes = Buffer.from(this.format(await this.report.json()), 'utf8');
    this.opened.push(bytes);
    return bytes;
  }

  async read(handle: Handle, offset: number, length: number): Promise<Buffer | ViewErrno> {
    const bytes = handle as Buffer;
    return bytes.subarray(Math.min(offset, bytes.length), Math.min(offset + length, bytes.length));
  }

  async release(handle: Handle): Promise<void> {
    const i = this.opened.lastIndexOf(handle as Buffer);
    if (i >= 0) this.opened.splice(i, 1);
  }
}

/** The three views, for the mount root. */
export function fileReportViews(report: LiveFileReport): [string, View][] {
  return [
    ['files.json', new FileReportView(report, renderJson)],
    ['files.csv', new FileReportView(report, renderCsv)],
    ['files.txt', new FileReportView(report, (r) => renderText(r, false))],
  ];
}
