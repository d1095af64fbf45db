// The line `blkfs acquire` ends with. It counts the whole medium, and when something is left it says what and why
// (-n kept the '/' areas, -N the '*' ones, a domain the rest of the medium), so a partial run never reads as complete.
import { describeScope, RescueScope } from '../cache/rescue-scope';

interface AcquireResult {
  size?: number;
  bytesCached?: number;
  bytesBad?: number;
  bytesUntried?: number;
  bytesNonTrimmed?: number;
  bytesNonScraped?: number;
  aborted?: boolean;
  cancelled?: boolean;
  scope?: RescueScope;
}

export function acquireSummary(result: unknown, interrupted: boolean): string {
  const r = (result ?? {}) as AcquireResult;
  if (typeof r.size !== 'number') return interrupted ? 'blkfs: acquisition stopped\n' : '';
  const cached = r.bytesCached ?? 0;
  const bad = r.bytesBad ?? 0;
  const left = r.size - cached - bad;
  const counts = `${cached} bytes rescued, ${bad} bytes in bad sectors, ${left} bytes not settled`;
  if (r.aborted || r.cancelled || interrupted) return `blkfs: acquisition stopped; run again to resume: ${counts}\n`;
  const scope = r.scope ?? {};
  const limited = scope.noScrape || scope.noTrim || scope.domain !== undefined;
  const head = limited ? `finished (${describeScope(scope)})` : 'finished';
  if (left <= 0) return `blkfs: acquisition ${head}: ${counts}\n`;
  const kinds = [
    [r.bytesUntried ?? 0, "untried ('?')"],
    [r.bytesNonTrimmed ?? 0, "non-trimmed ('*')"],
    [r.bytesNonScraped ?? 0, "non-scraped ('/')"],
  ] as const;
  const what = kinds.filter(([n]) => n > 0).map(([n, kind]) => `${n} ${kind}`);
  const without = [...(scope.noScrape ? ['-n'] : []), ...(scope.noTrim ? ['-N'] : []), ...(scope.domain ? ['-i/-s'] : [])];
  const advice = `run blkfs acquire again${without.length > 0 ? ` without ${without.join(', ')}` : ''} to read them`;
  return `blkfs: acquisition ${head}: ${counts} (${what.join(', ')}): ${advice}\n`;
}
