// GNU ddrescue as the driver of a rescue, with /mapfile as its own mapfile. What ddrescue writes there is its
// view, the map of its own output image; the cache stays the truth. A write is parsed (ddrescue's grammar, errors
// naming the line) and reconciled: it never makes '+' a sector the cache does not hold, and never marks bad one the
// cache has not decided (both logged); for sectors the cache has not decided ('?', '*', '/') ddrescue's own '?',
// '*' and '/' are kept, with its current position, phase and pass. Sectors the cache holds but ddrescue has not
// rescued (read ahead of it, by another reader, by blkfs acquire) show as ddrescue's status: its image does not
// hold them, so a resumed ddrescue must read them again (from the cache: no device read). Shown as '+', they were
// skipped and left as zeros in its image under a map calling them rescued. The cache itself is never downgraded.
import { appendRun, type Extent, type GrowingRun, type Run, type SectorStatus } from '../cache/extent-map';
import { isMoreDone } from '../cache/imported-states';
import { MapfilePhase, MapfileStatusLine, parseMapfile } from '../cache/mapfile';

type Claim = SectorStatus | 'none';

export interface DriverState extends MapfileStatusLine {
  program: 'ddrescue';
  /** When the last write was accepted (ISO time). */
  updated: string;
  /** The last accepted write, verbatim. */
  text: string;
}

export interface Reconciled {
  /** What was refused, one message per run (for the log). */
  refused: string[];
}

function isUndecided(s: SectorStatus): boolean {
  return s === '?' || s === '*' || s === '/';
}

/** The driver's blocks as sector runs tiling [0, sectorCount) ('none' where it says nothing). */
export function claimsOf(
  blocks: readonly { pos: number; size: number; status: SectorStatus }[],
  sectorSize: number,
  sectorCount: number,
  mediumSize = sectorCount * sectorSize,
): Run<Claim>[] {
  const out: GrowingRun<Claim>[] = [];
  const push = (start: number, end: number, status: Claim) => appendRun(out, start, end, status);
  let next = 0;
  for (const b of blocks) {
    let s0 = Math.floor(b.pos / sectorSize);
    const s1 = Math.min(sectorCount, Math.ceil((b.pos + b.size) / sectorSize));
    if (s0 >= sectorCount) break;
    if (s0 < next) {
      // The sector shared with the previous block takes the less done status of the two, as blkfs import and
      // ddrescue itself take it (imported-states.ts): '+' only if all of it is; part '-', part '?' is '?'. The worse
      // of the two ('-') made ddrescue skip a sector the cache holds, and its image lacked the untried part.
      const last = out[out.length - 1];
      if (last.status !== 'none' && isMoreDone(last.status, b.status)) {
        last.count--;
        if (last.count === 0) out.pop();
      } else s0 = next;
    } else push(next, s0, 'none');
    push(s0, s1, b.status);
    next = Math.max(next, s1);
  }
  // Where the map says nothing ddrescue takes non-tried, so a sector it only partly covers (its first block
  // starting inside one, its last ending inside one: an unaligned -i/-s whose save was cut short) is not rescued
  // whole. Rounded up to '+', the resumed ddrescue skipped the rest of the sector and left zeros under '+'.
  const first = blocks[0];
  if (first && first.pos % sectorSize !== 0) downgradeSector(out, Math.floor(first.pos / sectorSize));
  const last = blocks[blocks.length - 1];
  const end = last ? last.pos + last.size : 0;
  if (last && end % sectorSize !== 0 && end < mediumSize) downgradeSector(out, Math.floor(end / sectorSize));
  push(next, sectorCount, 'none');
  return out;
}

/** Sector `s` of the runs `out` becomes non-tried ('?'), as ddrescue reads a sector its map covers only in part. */
function downgradeSector(out: GrowingRun<Claim>[], s: number): void {
  const i = out.findIndex((r) => r.start <= s && s < r.start + r.count);
  if (i < 0) return;
  const r = out[i];
  if (r.status === 'none' || r.status === '?') return;
  const pieces = [
    { start: r.start, count: s - r.start, status: r.status },
    { start: s, count: 1, status: '?' as Claim },
    { start: s + 1, count: r.start + r.count - s - 1, status: r.status },
  ].filter((p) => p.count > 0);
  out.splice(i, 1, ...pieces);
}

/** Walks two run lists that tile the same range, segment by segment. */
function* zip<A, B>(a: readonly Run<A>[], b: readonly Run<B>[]): Generator<{ start: number; count: number; a: A; b: B }> {
  let i = 0;
  let j = 0;
  let pos = 0;
  while (i < a.length && j < b.length) {
    const end = Math.min(a[i].start + a[i].count, b[j].start + b[j].count);
    if (end > pos) yield { start: pos, count: end - pos, a: a[i].status, b: b[j].status };
    pos = end;
    if (a[i].start + a[i].count === end) i++;
    if (b[j].start + b[j].count === end) j++;
  }
}

export class MapfileDriver {
  private claims: Run<Claim>[] | undefined;
  private line: DriverState | undefined;

  constructor(
    private readonly sectorSize: number,
    private readonly sectorCount: number,
    /** The medium's size in bytes, when its last sector is partial. */
    private readonly mediumSize = sectorCount * sectorSize,
  ) {}

  /** The driver's status line and when it wrote, once it has written a mapfile. */
  state(): DriverState | undefined {
    return this.line;
  }

  /**
   * Accepts what a writer wrote to /mapfile (throws MapfileError naming the line, keeping the previous state).
   * `cache` is the truth at this moment (after the writer's reads are committed).
   */
  accept(text: string, cache: readonly Extent[], when: Date = new Date()): Reconciled {
    const parsed = parseMapfile(text, this.mediumSize);
    const claims = claimsOf(parsed.blocks, this.sectorSize, this.sectorCount, this.mediumSize);
    const refused: string[] = [];
    const ss = this.sectorSize;
    for (const seg of zip(cache, claims)) {
      if (seg.b === 'none' || seg.a === seg.b) continue;
      const where = `${seg.count * ss} bytes at ${seg.start * ss}`;
      if (seg.b === '+') refused.push(`mapfile write: refused '+' for ${where} the cache holds as '${seg.a}' (never read from the device)`);
      else if (seg.b === '-' && isUndecided(seg.a)) refused.push(`mapfile write: kept '${seg.a}' for ${where} the writer marked bad without the device saying so`);
    }
    this.claims = claims;
    this.line = { program: 'ddrescue', currentPos: parsed.currentPos, phase: parsed.phase, pass: parsed.pass, updated: when.toISOString(), text };
    return { refused };
  }

  /**
   * The map /mapfile shows: the cache, with the driver's '?', '*', '/' on sectors the cache has not decided, and
   * the driver's status on sectors the cache holds but the driver has not rescued ('+' only where both say so).
   */
  view(cache: readonly Extent[]): Extent[] {
    if (!this.claims) return [...cache];
    const out: { start: number; count: number; status: SectorStatus }[] = [];
    for (const seg of zip(cache, this.claims)) {
      const theirs = seg.b !== 'none' && (seg.a === '+' || (isUndecided(seg.a) && isUndecided(seg.b)));
      // Where a map cut short says nothing, ddrescue takes non-tried: a cached sector there is not in its image.
      const status = theirs ? (seg.b as SectorStatus) : seg.b === 'none' && seg.a === '+' ? '?' : seg.a;
      const last = out[out.length - 1];
      if (last && last.status === status) last.count += seg.count;
      else out.push({ start: seg.start, count: seg.count, status });
    }
    return out;
  }

  /** The status line /mapfile shows while a driver is at work (undefined: the cache's own). */
  statusLine(): { currentPos: number; phase: MapfilePhase; pass: number } | undefined {
    return this.line && { currentPos: this.line.currentPos, phase: this.line.phase, pass: this.line.pass };
  }
}
