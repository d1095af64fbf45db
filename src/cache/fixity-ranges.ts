// Range arithmetic of the fixity ledger (fixity.ts): '+' sectors no chunk covers, and damaged ranges merged.
import type { Extent } from './extent-map';

/** Sector ranges of the '+' extents that no chunk row covers. */
export function uncovered(plus: readonly Extent[], rows: readonly { start: number; count: number }[]): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  for (const e of plus) {
    let s = e.start;
    const end = e.start + e.count;
    while (i < rows.length && rows[i].start + rows[i].count <= s) i++;
    let j = i;
    while (s < end) {
      if (j < rows.length && rows[j].start <= s) {
        s = Math.max(s, rows[j].start + rows[j].count);
        j++;
        continue;
      }
      const next = j < rows.length ? Math.min(end, rows[j].start) : end;
      if (next > s) out.push([s, next]);
      s = next;
    }
  }
  return out;
}

/** Adjacent ranges of one reason as one (verify lists them that way). */
export function mergeDamaged<R extends { offset: number; length: number; reason: string }>(ranges: R[]): R[] {
  const out: R[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && last.reason === r.reason && last.offset + last.length === r.offset) last.length += r.length;
    else out.push({ ...r });
  }
  return out;
}
