// Reading one span of sectors from the device in one of ddrescue's modes, and turning what happened into state
// changes (outcomes). Nothing here touches the cache's state: the caller stores the outcomes (sector-store.ts).
import { MediaError } from '../source/block-source';
import type { DeviceReader } from './device-reader';
import type { SectorStatus } from './extent-map';
import type { Priority } from './sector-cache';

/** A state change produced by a device read (or a decision, like marking a trimmed middle '/'). */
export interface Outcome {
  start: number;
  count: number;
  status: SectorStatus;
  /** Bytes for '+' outcomes (count sectors, the last possibly partial). */
  data?: Buffer;
  /** Non-'+' outcomes apply only to sectors still in this status (never downgrade what another read found). */
  from?: SectorStatus;
  /** A failed re-read of a '-' sector: counts against its retries. */
  retried?: boolean;
  /** CRC-32 of the '+' bytes when `data` was dropped before the commit (fixity.ts records it with the '+'). */
  crc?: number;
}

/** How a span is read. narrow: whole, then sector-wise to the first bad sector (foreground). copy: whole, a
 * failure marks the span '*' (ddrescue's copying pass). stream: copy for spans larger than a cluster (the copying
 * pass on a healthy medium): whole, and after a failure cluster by cluster, each as in copy, so a bad area gets
 * ddrescue's '*' granularity while a healthy one is read in few large reads. forward/backward: sector-wise until
 * the first failure (trimming). scrape: every sector on its own. */
export type FetchMode = 'narrow' | 'copy' | 'stream' | 'forward' | 'backward' | 'scrape';

/** The bytes of span [start, end) when one '+' outcome covers it whole (a span read in one piece), else undefined. */
export function wholeSpanData(outcomes: readonly Outcome[], start: number, end: number): Buffer | undefined {
  const only = outcomes.length === 1 ? outcomes[0] : undefined;
  return only?.status === '+' && only.start === start && only.count === end - start ? only.data : undefined;
}

/** ddrescue's default cluster (-c 128 sectors of 512 bytes): the copying pass's unit in a bad area. */
export const CLUSTER_BYTES = 64 * 1024;

/** What a span read learnt; a failure other than a media error (e.g. a lost source) is kept beside what came before it. */
export interface SpanResult {
  outcomes: Outcome[];
  failure: unknown;
}

/** One span to read: sectors [start, end) of `device`, all in status `from`, in `mode` at `priority`. */
export interface SpanRead {
  device: DeviceReader;
  start: number;
  end: number;
  from: SectorStatus;
  mode: FetchMode;
  priority: Priority;
  /** A buffer of the span's size: the first read of the whole span lands there (a '+' outcome of it then holds it). */
  into?: Buffer;
  /** Hears each single-sector outcome (the sector-wise modes) as soon as it is known. */
  keep?: (outcome: Outcome) => void;
}

/** Reads a span in its mode. Never rejects: see SpanResult. */
export async function fetchSpan(span: SpanRead): Promise<SpanResult> {
  const outcomes: Outcome[] = [];
  try {
    await readSpan(span, outcomes);
    return { outcomes, failure: undefined };
  } catch (e) {
    return { outcomes, failure: e };
  }
}

/** The device reads of a span: pushes what they found to `outcomes`; rethrows anything but a MediaError. */
async function readSpan(span: SpanRead, outcomes: Outcome[]): Promise<void> {
  const { device, start, end, from, mode, priority, into, keep } = span;
  const retried = from === '-';
  const single = async (s: number): Promise<boolean> => {
    let outcome: Outcome;
    try {
      outcome = { start: s, count: 1, status: '+', data: await device.readSectors(s, s + 1, priority) };
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      outcome = { start: s, count: 1, status: '-', from, retried };
    }
    outcomes.push(outcome);
    keep?.(outcome);
    return outcome.status === '+';
  };
  if (mode === 'narrow' || mode === 'copy' || mode === 'stream') {
    try {
      const data = into ? await device.readSectorsInto(start, end, priority, into) : await device.readSectors(start, end, priority);
      outcomes.push({ start, count: end - start, status: '+', data });
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
      const cluster = Math.max(1, Math.floor(CLUSTER_BYTES / device.sectorSize));
      if (end - start === 1) outcomes.push({ start, count: 1, status: '-', from, retried });
      else if (mode === 'stream' && end - start > cluster) await clusters(span, cluster, outcomes);
      else if (mode !== 'narrow') outcomes.push({ start, count: end - start, status: '*', from });
      else await narrow(span, e, outcomes, single);
    }
  } else if (mode === 'forward') {
    for (let s = start; s < end; s++) if (!(await single(s))) break;
  } else if (mode === 'backward') {
    for (let s = end - 1; s >= start; s--) if (!(await single(s))) break;
  } else {
    for (let s = start; s < end; s++) await single(s);
  }
}

/** A large copying read failed: its clusters one by one (aligned to the medium), each '+' or '*' as in copy mode. */
async function clusters({ device, start, end, from, priority }: SpanRead, cluster: number, outcomes: Outcome[]): Promise<void> {
  for (let s = start; s < end; ) {
    const e = Math.min(end, (Math.floor(s / cluster) + 1) * cluster);
    try {
      outcomes.push({ start: s, count: e - s, status: '+', data: await device.readSectors(s, e, priority) });
    } catch (err) {
      if (!(err instanceof MediaError)) throw err;
      outcomes.push({ start: s, count: e - s, status: e - s === 1 ? '-' : '*', from });
    }
    s = e;
  }
}

/**
 * A multi-sector read of untried sectors failed: find its first bad sector (the reader needs nothing past it).
 * An NBD error offset, when given, lets the good prefix be read in one go. Sectors after the first bad one were
 * only part of a failed read: they become '*' (ddrescue: failed, non-trimmed), not '-'.
 */
async function narrow({ device, start, end, from, priority }: SpanRead, err: MediaError, outcomes: Outcome[], single: (s: number) => Promise<boolean>): Promise<void> {
  let s = start;
  const hint = Math.floor(err.offset / device.sectorSize);
  if (hint > start && hint < end) {
    try {
      outcomes.push({ start, count: hint - start, status: '+', data: await device.readSectors(start, hint, priority) });
      s = hint;
    } catch (e) {
      if (!(e instanceof MediaError)) throw e;
    }
  }
  for (; s < end; s++) {
    if (!(await single(s))) {
      if (s + 1 < end) outcomes.push({ start: s + 1, count: end - s - 1, status: '*', from });
      return;
    }
  }
}
