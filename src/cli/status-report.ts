// What `blkfs status` prints: the mount's /status as a person reads it, plus a one-line map. Pure: the command
// (status.ts) fetches /status, /mapfile and the /rescued/ listing and hands them over.
import type { ByteExtent } from '../map/grid';
import { summarize } from '../map/grid';
import { formatBytes, formatDuration, formatPercent, hexPos } from '../map/format';
import { terminalMap } from '../map/terminal';
import { visibleName } from '../visible-text';

/** The fields of /status this report uses (all optional: an older server may lack some). */
export interface StatusJson {
  size?: number;
  sectorSize?: number;
  bytesCached?: number;
  bytesBad?: number;
  bytesUntried?: number;
  bytesNonTrimmed?: number;
  bytesNonScraped?: number;
  readRateBytesPerSec?: number;
  /** The server's ETA: of the running acquisition's domain (-i/-s) if it has one; null when idle or done. */
  etaSeconds?: number | null;
  deviceReads?: number;
  deviceFailedReads?: number;
  deviceTransientReads?: number;
  phase?: string;
  pass?: number;
  currentPos?: number;
  acquiring?: boolean;
  /** The running acquisition's ddrescue options (e.g. "-n"), or its "all phases, the whole medium". */
  acquisitionOptions?: string | null;
  retries?: number;
  /** Storing into the cache failed this session: the latest failure, and whether it still fails. */
  storeFailure?: { message: string; at: string; ongoing: boolean };
  source?: { state: string; lostEvents?: number; reconnects?: number; lastEvent?: string };
  driver?: { program: string; phase?: string; pass?: number; currentPos?: number; updated?: string } | null;
  sbx?: { image?: { phase: string; bytesDone: number; bytesTotal: number; rateBytesPerSec?: number; etaSeconds?: number | null } | null; containersFound?: number; scanner?: { pendingBytes: number } };
  /** The file report (blkfs files): the layout's state, and once read the counts per verdict. */
  files?: { layout: string; filesystems?: number; files?: number; intact?: number; damaged?: number; incomplete?: number; unknown?: number };
  /** The image checksums (/checksums) and, with a DAT, its verdict. */
  checksums?: {
    complete: boolean;
    bytesMissing?: number;
    waiting?: boolean;
    bytesBad?: number;
    digests?: { crc32: string; md5: string; sha1: string; sha256: string };
    dat?: { text?: string; pending?: boolean; dat?: string } | null;
  };
  /** Running `blkfs archive` sessions of this medium. */
  archives?: { destinations?: string[]; phase?: string; bytesArchived?: number; containerBytes?: number; etaSeconds?: number | null }[];
  server?: { pid?: number; cacheDir?: string; source?: string; mountpoint?: string; log?: string | null; http?: string | null };
}

export interface RescuedFind {
  uid: string;
  files: string[];
}

const PHASES: Record<string, string> = {
  '?': 'copying non-tried blocks',
  '*': 'trimming non-trimmed blocks',
  '/': 'scraping non-scraped blocks',
  '-': 'retrying bad sectors',
  F: 'filling specified blocks',
  G: 'generating approximate mapfile',
  '+': 'finished',
};

/**
 * Seconds until every untried byte is tried at the current rate (undefined when idle or done): the server's figure
 * (which knows the running acquisition's domain, as the web page shows it), or from the counters for an older server.
 */
export function etaSeconds(s: StatusJson): number | undefined {
  if (s.etaSeconds !== undefined) return s.etaSeconds ?? undefined;
  const left = (s.bytesUntried ?? 0) + (s.bytesNonTrimmed ?? 0) + (s.bytesNonScraped ?? 0);
  const rate = s.readRateBytesPerSec ?? 0;
  if (left === 0 || rate <= 0) return undefined;
  return left / rate;
}

/** The file report in one line: damaged files first, as a person scans for them. */
export function filesLine(f: NonNullable<StatusJson['files']>): string {
  // A failed layout is not read again on asking (only once sectors TSK missed are read): `blkfs files` says why.
  if (f.layout === 'failed') return 'layout failed (blkfs files MOUNTPOINT says why)';
  if (f.layout !== 'ready') return `layout ${f.layout} (blkfs files MOUNTPOINT reads it)`;
  if (f.filesystems === 0) return 'no filesystem The Sleuth Kit can read (blkfs files MOUNTPOINT says why)';
  const parts = [`${f.damaged ?? 0} damaged`, `${f.unknown ?? 0} unknown`, `${f.incomplete ?? 0} incomplete`, `${f.intact ?? 0} intact`];
  return `${parts.join(', ')} of ${f.files ?? 0}`;
}

export function formatStatusReport(
  s: StatusJson,
  extents: readonly ByteExtent[] | undefined,
  rescued: readonly RescuedFind[] | undefined,
  opts: { colour: boolean; columns: number },
): string {
  const size = s.size ?? 0;
  const bold = (t: string) => (opts.colour ? `\x1b[1m${t}\x1b[0m` : t);
  const out: string[] = [];
  const row = (k: string, v: string) => out.push(`${(k + ':').padEnd(16)}${v}`);
  const srv = s.server ?? {};
  row('medium', `${srv.source ?? '?'} on ${srv.mountpoint ?? '?'}`);
  const transient = s.deviceTransientReads ?? 0;
  if (s.source && (s.source.state !== 'connected' || s.source.lostEvents || transient)) {
    // Server trouble, not bad sectors: reads it failed for a passing reason stay untried.
    const failed = transient ? `, ${transient} read${transient === 1 ? '' : 's'} failed by the server for a passing reason (left untried)` : '';
    row('source', `${s.source.state}${s.source.lostEvents ? `, lost ${s.source.lostEvents}×, reconnected ${s.source.reconnects ?? 0}×` : ''}${failed}${s.source.lastEvent ? ` (${visibleName(s.source.lastEvent)})` : ''}`);
  }
  const sf = s.storeFailure;
  // Bytes read from the medium that could not be kept stay untried (read again when asked): said above the counters.
  if (sf) row('cache writes', `${sf.ongoing ? `FAILING (latest at ${sf.at})` : `ok again (last failed at ${sf.at})`}: ${sf.message}`);
  row('size', `${formatBytes(size)} (${size} bytes, ${s.sectorSize ?? '?'}-byte sectors)`);
  row('rescued', bold(`${formatPercent(s.bytesCached ?? 0, size)}`) + ` (${formatBytes(s.bytesCached ?? 0)})`);
  const untried = (s.bytesUntried ?? 0) + (s.bytesNonTrimmed ?? 0) + (s.bytesNonScraped ?? 0);
  row(
    'left',
    `${formatBytes(untried)} untried` +
      (s.bytesNonTrimmed || s.bytesNonScraped ? ` (${formatBytes(s.bytesNonTrimmed ?? 0)} non-trimmed, ${formatBytes(s.bytesNonScraped ?? 0)} non-scraped)` : ''),
  );
  const summary = extents ? summarize(extents, size) : undefined;
  row(
    'bad',
    `${formatBytes(s.bytesBad ?? 0)}` +
      (summary ? ` in ${summary.badAreas} area${summary.badAreas === 1 ? '' : 's'}${summary.badAreas ? `, largest ${formatBytes(summary.largestBadArea)}` : ''}` : ''),
  );
  const eta = etaSeconds(s);
  row('read rate', `${formatBytes(s.readRateBytesPerSec ?? 0)}/s` + (eta !== undefined ? `, ETA ${formatDuration(eta)}` : ''));
  row(
    'phase',
    `${PHASES[s.phase ?? ''] ?? s.phase ?? '?'} (pass ${s.pass ?? 1}) at ${hexPos(s.currentPos ?? 0)}` + (s.acquiring ? `, acquisition running${s.acquisitionOptions && s.acquisitionOptions.startsWith('-') ? ` (${s.acquisitionOptions})` : ''}` : ''),
  );
  if (s.driver) {
    const d = s.driver;
    row('driver', `${d.program}: ${PHASES[d.phase ?? ''] ?? d.phase ?? '?'} (pass ${d.pass ?? 1}) at ${hexPos(d.currentPos ?? 0)}${d.updated ? `, map written ${d.updated}` : ''}`);
  }
  const img = s.sbx?.image;
  if (img) {
    const rate = img.rateBytesPerSec ?? s.readRateBytesPerSec ?? 0;
    const left = img.bytesTotal - img.bytesDone;
    const eta = img.etaSeconds ?? (rate > 0 && left > 0 ? left / rate : undefined);
    const imgEta = img.phase === 'acquiring' && eta != null ? `, ${formatBytes(rate)}/s, ETA ${formatDuration(eta)}` : '';
    row('sbx image', `${img.phase} for image.sbx: ${formatPercent(img.bytesDone, img.bytesTotal)} (${formatBytes(img.bytesDone)} of ${formatBytes(img.bytesTotal)})${imgEta}`);
  }
  else row('sbx image', 'idle');
  const c = s.checksums;
  if (c) {
    row(
      'checksums',
      c.complete && c.digests
        ? `CRC-32 ${c.digests.crc32}, SHA-1 ${c.digests.sha1}${c.bytesBad ? ` (${formatBytes(c.bytesBad)} unreadable, hashed as zeros)` : ''}`
        : c.bytesMissing === 0
          ? 'every byte hashed, the digests follow in a moment'
          : `incomplete: ${formatBytes(c.bytesMissing ?? 0)} ${c.waiting ? 'to hash once the fast reading pauses' : 'not settled yet'}`,
    );
    if (c.dat) row('DAT', visibleName(c.dat.text ?? `${c.dat.dat ?? 'DAT'}: the verdict waits for the complete image`));
  }
  for (const a of s.archives ?? []) {
    const done = a.containerBytes ? ` ${formatPercent(a.bytesArchived ?? 0, a.containerBytes)}` : '';
    row('archive', `${(a.destinations ?? []).join(', ')}: ${a.phase ?? '?'}${done}${a.etaSeconds != null ? `, ETA ${formatDuration(a.etaSeconds)}` : ''}`);
  }
  if (s.files) row('files', filesLine(s.files));
  if (rescued === undefined) row('rescued finds', 'not listed now: rescued/ waits for the medium (a file there needs sectors read first)');
  else {
    const files = rescued.reduce((n, r) => n + r.files.length, 0);
    row('rescued finds', rescued.length === 0 ? 'none' : `${rescued.length} container${rescued.length === 1 ? '' : 's'}, ${files} file${files === 1 ? '' : 's'}`);
    // The medium's names (SBX FNM): on a terminal, a control or bidi character in one must not act.
    for (const r of rescued) for (const f of r.files) out.push(`${''.padEnd(16)}${visibleName(`rescued/${r.uid}/${f}`)}`);
  }
  row('cache', srv.cacheDir ?? '?');
  row('log', srv.log ?? 'stderr of the foreground blkfs mount');
  if (srv.http) row('web page', srv.http);
  if (extents) {
    out.push('');
    out.push(terminalMap(extents, size, { columns: opts.columns, colour: opts.colour, currentPos: s.currentPos, granule: s.sectorSize }));
  }
  return out.join('\n') + '\n';
}
