// How a device read's outcomes reach the cache: joined for the data file's writes, and applied to the map only
// where they do not undo what another read found meanwhile (sector-store.ts).
import type { SectorStatus } from './extent-map';
import type { Outcome } from './span-fetch';

/** Joins adjacent '+' outcomes so the data file gets few large writes. */
export function coalesce(outcomes: readonly Outcome[]): Outcome[] {
  const out: Outcome[] = [];
  for (const o of outcomes) {
    const last = out[out.length - 1];
    if (last && last.data && o.data && last.start + last.count === o.start) {
      out[out.length - 1] = { start: last.start, count: last.count + o.count, status: '+', data: Buffer.concat([last.data, o.data]) };
    } else {
      out.push(o);
    }
  }
  return out;
}

/**
 * Whether an outcome leaves a sector now in status `now` as it is. '+' is final. A '-' is that very sector read
 * alone and refused: it lands whatever the sector became while it was read (the trimming may have marked a '*'
 * sector '/' meanwhile; were the '-' dropped, the scraping would read the sector again). Other outcomes ('*', '/'
 * decided from a failed larger read or a trim) apply only to sectors still in the status they were decided from,
 * so they never undo what another read found.
 */
export function leavesAsIs(o: Outcome, now: SectorStatus): boolean {
  if (now === '+') return true;
  if (o.status === '+' || o.status === '-') return false;
  return now !== (o.from ?? now);
}
