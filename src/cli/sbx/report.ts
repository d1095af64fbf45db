// The one printer of `blkfs sbx`: human text or blkar's --json layout, errors with blkar's exit codes, and
// progress on stderr. Commands build a report (an ordered document of labelled fields) and hand it here;
// workflows never print.
//
// blkar (json_printer.rs) writes each field on its own line with the comma at the START of every line but
// the first of its object (`{\n"a": 1\n,"b": 2\n}`), derives JSON keys from the human labels (camelCase, no
// parentheses) and ends every run with `"error": null` or `"error": "<msg>"`. We reproduce that layout byte
// for byte, with one deliberate difference: strings are always quoted and fully escaped, so a UID made only of
// digits or a file name with a backslash still yields valid JSON (blkar would print them raw).
import { BlkfsError, EXIT_FAILURE, EXIT_OK, exitCodeOf } from '../../errors';

/** What blkar prints before the message of an error raised inside a workflow (general_error.rs). */
export const BLKAR_ERROR_PREFIX = 'Error : ';

/** bigint: a u64 field printed with all its digits, as blkar prints it (a JSON number). */
export type Scalar = string | number | bigint | boolean | null;

/** An ordered object; labels are blkar's human labels, the JSON key is derived from them. */
export class ReportObject {
  constructor(readonly fields: Field[] = []) {}
  add(label: string, value: Value, human?: string): this {
    this.fields.push({ label, value, human });
    return this;
  }
}

/** An array of objects. blkar prints some arrays (repair's per-set reports) with an empty line after each item. */
export class ReportList {
  constructor(
    readonly items: ReportObject[] = [],
    readonly blankLineAfterItem = false,
  ) {}
}

export type Value = Scalar | ReportObject | ReportList;
export interface Field {
  label: string;
  value: Value;
  /** Human rendering of the value when it differs from String(value). */
  human?: string;
}

/** blkar's misc_utils::to_camelcase: "Number of blocks (data)" → "numberOfBlocksData", "File UID" → "fileUID". */
export function toCamelCase(label: string): string {
  const words = label
    .replace(/[()]/g, '')
    .split(/\s+/)
    .filter((w) => w.length > 0);
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0].toUpperCase() + w.slice(1))).join('');
}

function jsonScalar(v: Scalar): string {
  if (v === null || typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function renderInto(out: string[], value: ReportObject | ReportList): void {
  if (value instanceof ReportObject) {
    value.fields.forEach((f, i) => {
      const comma = i === 0 ? '' : ',';
      const key = JSON.stringify(toCamelCase(f.label));
      if (f.value instanceof ReportObject) {
        out.push(`${comma}${key}: {\n`);
        renderInto(out, f.value);
        out.push('}\n');
      } else if (f.value instanceof ReportList) {
        out.push(`${comma}${key}: [\n`);
        renderInto(out, f.value);
        out.push(']\n');
      } else {
        out.push(`${comma}${key}: ${jsonScalar(f.value)}\n`);
      }
    });
  } else {
    value.items.forEach((item, i) => {
      out.push(i === 0 ? '{\n' : ',{\n');
      renderInto(out, item);
      out.push(value.blankLineAfterItem ? '}\n\n' : '}\n');
    });
  }
}

/** The whole JSON document of one run: the report's fields, then `"error"`. */
export function renderBlkarJson(report: ReportObject, error: string | null): string {
  const doc = new ReportObject([...report.fields, { label: 'error', value: error }]);
  const out: string[] = ['{\n'];
  renderInto(out, doc);
  out.push('}\n');
  return out.join('');
}

/** Human rendering: `Label   : value` with the labels of one object padded to one width, nested objects indented. */
export function renderHuman(report: ReportObject, indent = ''): string {
  const scalars = report.fields.filter((f) => !(f.value instanceof ReportObject) && !(f.value instanceof ReportList));
  const width = Math.max(0, ...scalars.map((f) => f.label.length));
  const lines: string[] = [];
  for (const f of report.fields) {
    if (f.value instanceof ReportObject) {
      lines.push(renderHuman(f.value, indent).replace(/\n$/, ''));
    } else if (f.value instanceof ReportList) {
      for (const item of f.value.items) {
        lines.push(renderHuman(item, indent).replace(/\n$/, ''));
        lines.push('');
      }
    } else {
      const shown = f.human ?? (f.value === null ? 'N/A' : String(f.value));
      lines.push(`${indent}${f.label.padEnd(width)} : ${shown}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** "00:00:07" as blkar prints elapsed times. */
export function hms(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(Math.floor(s / 3600))}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}`;
}

/** The seconds chrono 0.4's NaiveDateTime holds (years -262144 to 262143); JavaScript's Date reaches a little further. */
const CHRONO_FIRST_SECOND = Date.UTC(-262144, 0, 1) / 1000;
const CHRONO_LAST_SECOND = Date.UTC(262144, 0, 1) / 1000 - 1;

/** blkar's date rendering: "2020-09-13 12:28:20 (UTC)  2020-09-13 12:28:20 (Local)". */
export function blkarDate(unixSeconds: number): string {
  if (!(unixSeconds >= CHRONO_FIRST_SECOND && unixSeconds <= CHRONO_LAST_SECOND)) return 'Invalid recorded date time';
  const d = new Date(unixSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const utc = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(
    d.getUTCMinutes(),
  )}:${p(d.getUTCSeconds())}`;
  const local = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(
    d.getMinutes(),
  )}:${p(d.getSeconds())}`;
  return `${utc} (UTC)  ${local} (Local)`;
}

export type ProgressLevel = 0 | 1 | 2;

export interface PrinterOptions {
  json: boolean;
  /** --pv; undefined = blkar's default (2 for humans, 0 in JSON mode). */
  progressLevel?: ProgressLevel;
  /** Decoding to stdout: every report goes to stderr so the data stream stays clean. */
  reportToStderr?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

/** Progress callback handed to workflows: units done so far and the total (bytes unless said otherwise). */
export type ProgressFn = (unitsSoFar: number, totalUnits: number) => void;

export class Printer {
  readonly json: boolean;
  readonly progressLevel: ProgressLevel;
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;

  constructor(opts: PrinterOptions) {
    this.json = opts.json;
    this.progressLevel = opts.progressLevel ?? (opts.json ? 0 : 2);
    this.err = opts.stderr ?? process.stderr;
    const stdout = opts.stdout ?? process.stdout;
    this.out = opts.reportToStderr ? this.err : stdout;
  }

  /** Successful end of a run: the report as JSON, or as human text (`human` replaces the generic rendering). */
  result(report: ReportObject, human?: string): number {
    if (this.json) this.out.write(renderBlkarJson(report, null));
    else this.out.write(human ?? renderHuman(report));
    return EXIT_OK;
  }

  /** Human-only text (notices, verbose lines); ignored in JSON mode. */
  note(text: string): void {
    if (!this.json) this.out.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** A human-only warning on stderr, so stdout stays what blkar prints; ignored in JSON mode. */
  warn(text: string): void {
    if (!this.json) this.err.write(text.endsWith('\n') ? text : text + '\n');
  }

  /**
   * An error ends the run: `"error": "<msg>"` (after any fields already known) or the message alone. Errors
   * raised inside a workflow that blkar prints with its "Error : " prefix say so with `blkarPrefixed`.
   */
  error(err: unknown, partial: ReportObject = new ReportObject()): number {
    const text = err instanceof Error ? err.message : String(err);
    // An I/O error from the system (EIO reading a failing medium, ENOSPC writing) is raised during the operation too.
    const systemError = !(err instanceof BlkfsError) && typeof (err as { syscall?: unknown } | null)?.syscall === 'string';
    const prefixed = (err as { blkarPrefixed?: unknown } | null)?.blkarPrefixed === true || systemError;
    const message = prefixed ? BLKAR_ERROR_PREFIX + text : text;
    if (this.json) this.out.write(renderBlkarJson(partial, message));
    else this.out.write(renderHuman(partial) + message + '\n');
    return exitCodeOf(err) || EXIT_FAILURE;
  }

  /** A progress reporter for one phase (header like blkar's "SBX block decoding progress"). */
  progress(header: string, unit = 'bytes'): ProgressReporter {
    return new ProgressReporter(header, unit, this.progressLevel, this.json, this.err);
  }
}

/**
 * blkar-style progress: level 2 redraws a bar on stderr at most every 300 ms, level 1 prints only the summary
 * when done, level 0 nothing. JSON mode prints one JSON object per line instead of the bar.
 */
export class ProgressReporter {
  private readonly start = Date.now();
  private lastTime = 0;
  private lastUnits = 0;
  private units = 0;
  private total = 0;
  private headerShown = false;
  private finished = false;
  private maxLen = 0;
  /** A phase that never reported (e.g. the block pass of check --hash-only) prints nothing. */
  private used = false;

  constructor(
    private readonly header: string,
    private readonly unit: string,
    private readonly level: ProgressLevel,
    private readonly json: boolean,
    private readonly err: NodeJS.WritableStream,
  ) {
    this.lastTime = this.start;
  }

  /** The callback to give a workflow. */
  readonly update: ProgressFn = (unitsSoFar, totalUnits) => {
    this.used = true;
    this.units = unitsSoFar;
    this.total = totalUnits;
    if (this.level < 2 || this.finished) return;
    const now = Date.now();
    if (now - this.lastTime < 300 && unitsSoFar < totalUnits) return;
    this.emit(false, now);
  };

  /** Writes `text` (whole lines) to the progress stream; a bar drawn so far keeps its line and is drawn again below. */
  interject(text: string): void {
    if (this.level >= 2 && !this.json && this.headerShown && !this.finished) {
      this.err.write('\n' + text);
      this.maxLen = 0;
    } else this.err.write(text);
  }

  /** Print the final line (levels 1 and 2). */
  finish(): void {
    if (this.finished) return;
    if (this.level >= 1 && this.used) this.emit(true, Date.now());
    this.finished = true;
  }

  private emit(done: boolean, now: number): void {
    const used = Math.max((now - this.start) / 1000, 0.1);
    const since = Math.max((now - this.lastTime) / 1000, 0.1);
    const cur = Math.max((this.units - this.lastUnits) / since, 0);
    const avg = this.units / used;
    const percent = this.total > 0 ? Math.min(100, Math.floor((this.units * 100) / this.total)) : 100;
    const left = cur > 0 ? Math.max(this.total - this.units, 0) / cur : 0;
    this.lastTime = now;
    this.lastUnits = this.units;
    if (this.json) {
      const line = {
        header: this.header,
        unit: this.unit,
        unitsSoFar: this.units,
        totalUnits: this.total,
        curPerSec: cur,
        avgPerSec: avg,
        timeUsed: used,
        timeLeft: done ? 0 : left,
      };
      this.err.write(JSON.stringify(line) + '\n');
      return;
    }
    if (!this.headerShown) {
      this.err.write(this.header + '\n');
      this.headerShown = true;
    }
    const msg = done
      ? `Time elapsed : ${hms(used)}, Average rate : ${readableRate(avg, this.unit)}`
      : `${bar(percent)} ${String(percent).padStart(3)}%  cur : ${readableRate(cur, this.unit)}  used : ${hms(
          used,
        )}  left : ${hms(left)}`;
    this.maxLen = Math.max(this.maxLen, msg.length);
    this.err.write('\r' + msg.padEnd(this.maxLen) + (done ? '\n' : ''));
  }
}

function bar(percent: number): string {
  const width = 25;
  const filled = Math.floor((percent * width) / 100);
  return '[' + '#'.repeat(filled) + ' '.repeat(width - filled) + ']';
}

function readableRate(perSec: number, unit: string): string {
  if (unit !== 'bytes') return `${perSec.toFixed(0)} ${unit}/s`;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = perSec;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 2)}${units[i]}/s`;
}
