// What one acquisition does, in GNU ddrescue's terms: its phases (-n/--no-scrape, -N/--no-trim) and its rescue
// domain (-i/--input-position, -s/--size). ddrescue reads byte ranges; the cache holds whole sectors, so a domain
// must start on a sector boundary and end on one (or at the medium's end): refused otherwise, never widened,
// since ddrescue never reads outside its domain (manual, "Basic concepts").
import { UserError } from '../errors';

/** [start, end) in bytes. */
export interface ByteDomain {
  start: number;
  end: number;
}

export interface RescueScope {
  /** ddrescue -N: no trimming ('*' blocks stay '*'); '/' blocks an earlier run left are still scraped, as ddrescue 1.27 does. */
  noTrim?: boolean;
  /** ddrescue -n: no scraping ('/' blocks stay '/'). */
  noScrape?: boolean;
  /** Only this part of the medium; absent: all of it. */
  domain?: ByteDomain;
}

const hex = (n: number) => '0x' + n.toString(16).toUpperCase();

/**
 * The domain of `-i inputPosition -s size` on a medium (ddrescue: -s is a maximum, -1 or absent means to the end).
 * Undefined when it is the whole medium. Bad user input (outside the medium, unaligned, empty) is a UserError.
 */
export function domainOf(inputPosition: number, maxSize: number | undefined, medium: { size: number; sectorSize: number }): ByteDomain | undefined {
  const { size, sectorSize } = medium;
  if (!Number.isSafeInteger(inputPosition) || inputPosition < 0) throw new UserError(`-i/--input-position ${inputPosition}: not a position`);
  if (inputPosition >= size) {
    throw new UserError(`-i/--input-position ${inputPosition} (${hex(inputPosition)}) is outside the medium (${size} bytes, last position ${size - 1})`);
  }
  if (inputPosition % sectorSize !== 0) {
    const below = inputPosition - (inputPosition % sectorSize);
    throw new UserError(
      `-i/--input-position ${inputPosition} is not on a sector boundary (sector size ${sectorSize}): blkfs reads whole sectors; use ${below} or ${below + sectorSize}`,
    );
  }
  if (maxSize !== undefined && maxSize !== -1 && (!Number.isSafeInteger(maxSize) || maxSize <= 0)) {
    throw new UserError(`-s/--size ${maxSize}: the domain must hold at least one sector (-1 for up to the end)`);
  }
  const end = maxSize === undefined || maxSize === -1 ? size : Math.min(size, inputPosition + maxSize);
  if (end < size && end % sectorSize !== 0) {
    throw new UserError(
      `-s/--size ${maxSize} ends the domain at ${end}, not on a sector boundary (sector size ${sectorSize}): blkfs reads whole sectors; use a multiple of ${sectorSize}`,
    );
  }
  return inputPosition === 0 && end === size ? undefined : { start: inputPosition, end };
}

/** A scope a client sent, checked against this medium (the server's own check: the medium may have changed since). */
export function checkScope(scope: RescueScope, medium: { size: number; sectorSize: number }): RescueScope {
  const d = scope.domain;
  const domain = d === undefined ? undefined : domainOf(d.start, d.end - d.start, medium);
  return { ...(scope.noTrim ? { noTrim: true } : {}), ...(scope.noScrape ? { noScrape: true } : {}), ...(domain ? { domain } : {}) };
}

export function sameScope(a: RescueScope, b: RescueScope): boolean {
  return describeScope(a) === describeScope(b);
}

/** The scope in ddrescue's option syntax, e.g. "-n -i 0x100000 -s 0x80000"; "all phases, the whole medium" for none. */
export function describeScope(scope: RescueScope): string {
  const parts = [
    ...(scope.noScrape ? ['-n'] : []),
    ...(scope.noTrim ? ['-N'] : []),
    ...(scope.domain ? [`-i ${hex(scope.domain.start)} -s ${hex(scope.domain.end - scope.domain.start)}`] : []),
  ];
  return parts.length > 0 ? parts.join(' ') : 'all phases, the whole medium';
}

/** Bytes of the domain settled ('+' or '-'), from the map's extents: the progress of an acquisition limited to it. */
export function settledBytesIn(extents: readonly { start: number; count: number; status: string }[], sectorSize: number, domain: ByteDomain): number {
  let bytes = 0;
  for (const e of extents) {
    if (e.status !== '+' && e.status !== '-') continue;
    const from = Math.max(e.start * sectorSize, domain.start);
    const to = Math.min((e.start + e.count) * sectorSize, domain.end);
    if (to > from) bytes += to - from;
  }
  return bytes;
}
