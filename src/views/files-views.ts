// /files.json, /files.csv and /files.txt: the live file report (which files the bad or unread sectors hit).
// Opening one reads the filesystem layout first if nobody has yet (The Sleuth Kit on /raw, awaited without
// blocking: its reads come back through this mount), then snapshots the report of that moment for the handle.
import type { LiveFileReport } from '../files/live-report';
import { renderCsv, renderJson, renderText } from '../files/report-render';
import type { FileReportJson } from '../files/file-report';
import { GeneratedFileView } from './generated-file-view';

const FORMATS = {
  json: renderJson,
  csv: renderCsv,
  txt: (r: FileReportJson) => renderText(r, false),
} as const;

export function fileReportView(format: keyof typeof FORMATS, report: LiveFileReport): GeneratedFileView {
  const render = FORMATS[format];
  return new GeneratedFileView(async () => render(await report.json()), {
    // stat must not start TSK: the size of the report as it stands (or of its "not read" form).
    idleSize: () => Buffer.byteLength(render(report.snapshot())),
  });
}
