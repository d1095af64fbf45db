// `blkfs files IMAGE MAPFILE | MOUNTPOINT [--damaged] [--json|--csv]`: which files the bad (or not yet read)
// sectors hit. Offline on any ddrescue image + mapfile pair (The Sleuth Kit reads the image's filesystems, only
// the bytes the mapfile calls rescued: src/cli/masked-layout.ts), or live from a mount's /files.json.
import * as fs from 'fs';
import * as path from 'path';
import { OperationError, UserError } from '../errors';
import { requireReadableFile } from './paths';
import { STOP_SIGNALS } from '../stop-signals';
import type { FileReportJson } from '../files/file-report';

interface FilesOptions {
  damaged?: boolean;
  json?: boolean;
  csv?: boolean;
}

export async function runFiles(paths: string[], opts: FilesOptions): Promise<void> {
  if (paths.length < 1 || paths.length > 2) throw new UserError('usage: blkfs files IMAGE MAPFILE | blkfs files MOUNTPOINT');
  const { renderText, renderJson, renderCsv, worthListing } = await import('../files/report-render');
  let report: FileReportJson;
  if (paths.length === 2) {
    requireReadableFile(paths[0], 'image');
    requireReadableFile(paths[1], 'mapfile');
    report = await offlineReport(paths[0], paths[1]);
  } else {
    report = await readLiveReport(paths[0]);
    // As offline: no layout is a failure (exit 2), not an empty list a script takes for "nothing damaged".
    if (report.layoutError) throw new OperationError(report.layoutError);
  }
  if (opts.damaged) report = { ...report, entries: report.entries.filter((e) => worthListing(e, true)) };
  process.stdout.write(opts.json ? renderJson(report) : opts.csv ? renderCsv(report) : renderText(report, !!opts.damaged));
}

/**
 * The offline report; on a signal, The Sleuth Kit is stopped and the private mount it read is gone before the process
 * ends of that signal (the default action, once the handler is off), with no report printed.
 */
async function offlineReport(image: string, mapfile: string): Promise<FileReportJson> {
  const [{ offlineFileReport }, { readMaskedLayout }] = await Promise.all([import('../files/offline-report'), import('./masked-layout')]);
  const stop = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    caught ??= sig;
    stop.abort();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  try {
    return await offlineFileReport(image, mapfile, { readMasked: readMaskedLayout, signal: stop.signal });
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    if (caught) process.kill(process.pid, caught);
  }
}

async function readLiveReport(mountpoint: string): Promise<FileReportJson> {
  // No look into a mount before findServer has checked that its server answers (even a stat would wait for it);
  // a path under no fuse mount at all may be looked at, to say what it is.
  const abs = path.resolve(mountpoint);
  const { mountEntries } = await import('../fuse/mountinfo');
  if (!mountEntries().some((m) => m.fstype.startsWith('fuse') && (abs === m.mountpoint || abs.startsWith(m.mountpoint.replace(/\/*$/, '/'))))) {
    if (!fs.existsSync(mountpoint)) throw new UserError(`no such mountpoint: ${mountpoint}`);
    if (fs.statSync(mountpoint).isFile()) throw new UserError(`${mountpoint} is a file, not a mountpoint: for an image, give its mapfile too (blkfs files IMAGE MAPFILE)`);
  }
  const { findServer } = await import('./mount-target');
  await findServer(mountpoint);
  const text = await fs.promises.readFile(`${mountpoint.replace(/\/+$/, '')}/files.json`, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UserError(`${mountpoint} has no file report (${err.code ?? err.message}): is it a blkfs mount of this version?`);
  });
  return JSON.parse(text) as FileReportJson;
}
