// Reads what a client asked of nbdkit, from a `--filter=log logfile=FILE` log (nbdkit 1.32 format):
//   <time> connection=1 Read id=2 offset=0x200000 count=0x200 ...
//   <time> connection=1 ...Read id=2 return=-1 error=EIO
// This is how tests count device reads at the NBD level. Put the log filter first (outermost) so it
// sees every request the client sends, including those a filter below fails.
import { expect } from 'chai';
import * as fs from 'fs';

export interface LoggedRead {
  connection: number;
  id: number;
  offset: number;
  count: number;
  /** 'ok', 'failed' (with error), or 'pending' when the return line is not (yet) in the log. */
  outcome: 'ok' | 'failed' | 'pending';
  error?: string;
  /** When nbdkit answered it (ms since the epoch, from the return line's local time stamp). */
  returnedAt?: number;
}

export interface Range {
  offset: number;
  length: number;
}

export interface NbdkitReadLog {
  /** Every Read request in log order. */
  reads: LoggedRead[];
  ok: Range[];
  failed: Range[];
  /** Bytes of successful reads (a byte read twice counts twice). */
  okBytes: number;
}

const REQUEST = /connection=(\d+) Read id=(\d+) offset=(0x[0-9a-fA-F]+|\d+) count=(0x[0-9a-fA-F]+|\d+)/;
const RETURN = /connection=(\d+) \.\.\.Read id=(\d+) return=(-?\d+)(?: error=(\S+))?/;
/** nbdkit's time stamp at the start of each line: local date and time, microseconds (cut to ms for Date). */
const STAMP = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})/;

export function parseNbdkitLog(text: string): NbdkitReadLog {
  const reads: LoggedRead[] = [];
  const open = new Map<string, LoggedRead>();
  // Only complete lines: nbdkit may be writing the last one while we read.
  for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    const req = REQUEST.exec(line);
    if (req) {
      const read: LoggedRead = { connection: +req[1], id: +req[2], offset: Number(req[3]), count: Number(req[4]), outcome: 'pending' };
      reads.push(read);
      open.set(`${read.connection}/${read.id}`, read);
      continue;
    }
    const ret = RETURN.exec(line);
    if (ret) {
      const key = `${ret[1]}/${ret[2]}`;
      const read = open.get(key);
      if (!read) continue;
      open.delete(key);
      read.outcome = ret[3] === '0' ? 'ok' : 'failed';
      if (ret[4]) read.error = ret[4];
      const at = STAMP.exec(line);
      if (at) read.returnedAt = new Date(`${at[1]}T${at[2]}`).getTime(); // no zone: local time, as nbdkit writes it
    }
  }
  const ranges = (outcome: LoggedRead['outcome']) =>
    reads.filter((r) => r.outcome === outcome).map((r) => ({ offset: r.offset, length: r.count }));
  const ok = ranges('ok');
  return { reads, ok, failed: ranges('failed'), okBytes: ok.reduce((n, r) => n + r.length, 0) };
}

export function readNbdkitLog(file: string): NbdkitReadLog {
  return parseNbdkitLog(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
}

/** Byte ranges covered by more than one of the given ranges (e.g. good bytes read from the device twice). */
export function overlaps(ranges: Range[]): Range[] {
  const edges = ranges.flatMap((r) => [
    { at: r.offset, delta: 1 },
    { at: r.offset + r.length, delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  const out: Range[] = [];
  let depth = 0;
  let start = 0;
  for (const { at, delta } of edges) {
    if (depth >= 2 && depth + delta < 2 && at > start) {
      const last = out[out.length - 1];
      if (last && last.offset + last.length === start) last.length += at - start;
      else out.push({ offset: start, length: at - start });
    }
    if (depth < 2 && depth + delta >= 2) start = at;
    depth += delta;
  }
  return out;
}

/** Merges ranges into sorted, non-overlapping, non-adjacent ranges (the union). */
/** Rule 3 at the NBD level: the device served something, and no good byte (so no sector) twice. */
export function expectEachSectorReadOnce(logFile: string): void {
  const { ok } = readNbdkitLog(logFile);
  expect(ok).to.not.be.empty;
  expect(overlaps(ok)).to.deep.equal([]);
}

export function union(ranges: Range[]): Range[] {
  const sorted = [...ranges].filter((r) => r.length > 0).sort((a, b) => a.offset - b.offset);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.offset <= last.offset + last.length) {
      last.length = Math.max(last.length, r.offset + r.length - last.offset);
    } else out.push({ ...r });
  }
  return out;
}
