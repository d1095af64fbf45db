// /files.json, /files.csv and /files.txt: the live file report (which files the bad or unread sectors hit).
// Opening one reads the filesystem layout first if nobody has yet (The Sleuth Kit on /raw, awaited without
// blocking: its reads come back through this mount), then snapshots the report of that moment for the handle,
// rendered a batch of rows per event-loop turn (a large disk's report would hold every reader of the mount).
import type { LiveFileReport } from '../files/live-report';
import { renderInTurns } from '../files/report-render';
import { GeneratedFileView } from './generated-file-view';

export function fileReportView(format: 'json' | 'csv' | 'txt', report: LiveFileReport): GeneratedFileView {
  return new GeneratedFileView(async () => renderInTurns(format, await report.json()), {
    // stat must not start TSK: the size of the report as it stands (or of its "not read" form).
    idleSize: async () => (await renderInTurns(format, await report.snapshotInTurns())).length,
  });
}
