// GNU ddrescue mapfiles: the writer's exact layout (ddrescue 1.27 Mapfile::write_mapfile) and its reader's exact
// grammar (Mapfile::read_mapfile + my_fgets + sscanf "%lli %c %d" / "%lli %lli %c"). Pure functions: no I/O.
import { Run, SectorStatus, isSectorStatus } from './extent-map';
import * as fs from 'fs';
import { UserError } from '../errors';

/** Status-line phase characters (Mapfile::Status). */
export type MapfilePhase = '?' | '*' | '/' | '-' | 'F' | 'G' | '+';

export function isMapfilePhase(ch: string): ch is MapfilePhase {
  return ch.length === 1 && '?*/-FG+'.includes(ch);
}

/** A block of the mapfile, in bytes. */
export interface MapBlock {
  pos: number;
  size: number;
  status: SectorStatus;
}

export interface MapfileStatusLine {
  currentPos: number;
  phase: MapfilePhase;
  pass: number;
}

export interface RenderOptions extends MapfileStatusLine {
  /** Extra heading comment lines (without the leading "# "). */
  comments?: readonly string[];
  /** The status message comment; defaults to ddrescue's wording for the phase. */
  message?: string;
}

const PHASE_MESSAGES: Record<MapfilePhase, string> = {
  '?': 'Copying non-tried blocks',
  '*': 'Trimming failed blocks',
  '/': 'Scraping failed blocks',
  '-': 'Retrying bad sectors',
  F: 'Filling specified blocks',
  G: 'Generating approximate mapfile',
  '+': 'Finished',
};

/** printf("0x%08llX"): uppercase, at least 8 digits. */
export function hex8(n: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(8, '0');
}

/**
 * Renders sector extents (which must tile the medium) as a ddrescue 1.27 mapfile of a medium of `sizeBytes`
 * bytes. The last sector may be partial: blocks are clipped at sizeBytes. Adjacent equal blocks are compacted,
 * as ddrescue does when it writes.
 */
export function renderMapfile(
  extents: readonly Run<SectorStatus>[],
  sectorSize: number,
  sizeBytes: number,
  opts: RenderOptions,
): string {
  const head: string[] = ['# Mapfile. Created by blkfs'];
  for (const c of opts.comments ?? []) head.push(`# ${c}`);
  head.push(`# ${opts.message ?? PHASE_MESSAGES[opts.phase]}`);
  head.push('# current_pos  current_status  current_pass');
  head.push(`${hex8(opts.currentPos)}     ${opts.phase}               ${opts.pass}`);
  head.push('#      pos        size  status');
  const headText = head.join('\n') + '\n';
  // Block lines are written as ASCII straight into a buffer: 200,000 of them render in tens of milliseconds.
  const out = Buffer.allocUnsafe(Buffer.byteLength(headText) + extents.length * BLOCK_LINE_MAX);
  let at = out.write(headText, 0, 'utf8');
  const line = (pos: number, size: number, status: SectorStatus) => {
    at = writeHex8(out, at, pos);
    out[at++] = 0x20;
    out[at++] = 0x20;
    at = writeHex8(out, at, size);
    out[at++] = 0x20;
    out[at++] = 0x20;
    out[at++] = status.charCodeAt(0);
    out[at++] = 0x0a;
  };
  let pendPos = 0;
  let pendEnd = 0;
  let pendStatus: SectorStatus | undefined;
  for (const e of extents) {
    const pos = e.start * sectorSize;
    const end = Math.min(sizeBytes, (e.start + e.count) * sectorSize);
    if (end <= pos) continue;
    if (pendStatus === e.status && pendEnd === pos) {
      pendEnd = end;
      continue;
    }
    if (pendStatus !== undefined) line(pendPos, pendEnd - pendPos, pendStatus);
    pendPos = pos;
    pendEnd = end;
    pendStatus = e.status;
  }
  if (pendStatus !== undefined) line(pendPos, pendEnd - pendPos, pendStatus);
  return out.toString('latin1', 0, at);
}

/** "0x" + up to 14 hex digits (2^53), two spaces, the same, two spaces, status, newline. */
const BLOCK_LINE_MAX = 2 * (2 + 14) + 2 + 2 + 1 + 1;
const HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');

/** Writes printf("0x%08llX", n) at `at`; returns the new offset. */
function writeHex8(buf: Buffer, at: number, n: number): number {
  let digits = 8;
  while (digits < 14 && n >= 2 ** (4 * digits)) digits++;
  buf[at] = 0x30;
  buf[at + 1] = 0x78;
  let v = n;
  for (let k = digits - 1; k >= 0; k--) {
    buf[at + 2 + k] = HEX_DIGITS[v % 16];
    v = Math.floor(v / 16);
  }
  return at + 2 + digits;
}

// ---------------------------------------------------------------------------------------------------------------
// Parser

export interface ParsedMapfile extends MapfileStatusLine {
  /** Blocks in file order (contiguous; zero-size blocks dropped). The first may start after 0. */
  blocks: MapBlock[];
}

/** ddrescue's parse errors, with its exact wording and the 1-based line number. */
export class MapfileError extends UserError {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`Error in mapfile, line ${line}: ${reason}`);
    this.name = 'MapfileError';
  }
}

export const BAD_STATUS_LINE = 'Bad or missing status line.';
export const BAD_BLOCK_LINE = 'Bad block line in list.';
export const NOT_CONTIGUOUS = 'Blocks are not contiguous.';
/** ddrescue's refusal (exit 1) of a map of a larger input; here with the line of the first such block. */
export const PAST_END = 'Rescued data in mapfile goes past end of input file.';

/** my_fgets keeps at most 127 characters of a line (after its leading whitespace) and drops the rest silently. */
const MAX_LINE = 127;

/** C isspace() in the "C" locale. */
function isSpace(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\v' || ch === '\f';
}

/** The meaningful lines, as ddrescue's my_fgets yields them: comment-free, truncated, with physical numbers. */
function* logicalLines(text: string): Generator<{ text: string; line: number }> {
  const physical = text.split('\n');
  if (physical.length > 0 && physical[physical.length - 1] === '') physical.pop();
  for (let n = 0; n < physical.length; n++) {
    const raw = physical[n];
    let i = 0;
    while (i < raw.length && isSpace(raw[i])) i++;
    // A '#' starts a comment at the start of a line or right after whitespace; glued to a token it is kept.
    let end = raw.length;
    for (let k = i; k < raw.length; k++) {
      if (raw[k] === '#' && (k === i || isSpace(raw[k - 1]))) {
        end = k;
        break;
      }
    }
    if (end <= i) continue; // blank or comment-only line
    yield { text: raw.slice(i, Math.min(end, i + MAX_LINE)), line: n + 1 };
  }
}

/** A tiny sscanf for ddrescue's formats: %lli (C literal: decimal, 0x hex, leading-0 octal), %c, %d. */
class Scanner {
  i = 0;
  constructor(private readonly s: string) {}

  skipSpace(): void {
    while (this.i < this.s.length && isSpace(this.s[this.i])) this.i++;
  }

  /** %lli (saturating at ±2^63 as strtoll does); undefined on a matching failure. */
  lli(): bigint | undefined {
    this.skipSpace();
    const s = this.s;
    let i = this.i;
    let neg = false;
    if (s[i] === '+' || s[i] === '-') {
      neg = s[i] === '-';
      i++;
    }
    let value = 0n;
    if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X')) {
      // glibc consumes "0x" even without hex digits after it, and converts it to 0.
      i += 2;
      while (i < s.length && /[0-9a-fA-F]/.test(s[i])) value = value * 16n + BigInt(parseInt(s[i++], 16));
    } else if (s[i] === '0') {
      while (i < s.length && s[i] >= '0' && s[i] <= '7') value = value * 8n + BigInt(s.charCodeAt(i++) - 48);
    } else if (s[i] >= '0' && s[i] <= '9') {
      while (i < s.length && s[i] >= '0' && s[i] <= '9') value = value * 10n + BigInt(s.charCodeAt(i++) - 48);
    } else {
      return undefined;
    }
    this.i = i;
    if (value > LLONG_MAX) value = neg ? LLONG_MAX + 1n : LLONG_MAX;
    return neg ? -value : value;
  }

  /** " %c": skips whitespace, then one character. */
  char(): string | undefined {
    this.skipSpace();
    if (this.i >= this.s.length) return undefined;
    return this.s[this.i++];
  }

  /** %d (decimal only). */
  int(): bigint | undefined {
    this.skipSpace();
    const m = /^[+-]?[0-9]+/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    this.i += m[0].length;
    return BigInt(m[0]);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const LLONG_MAX = 2n ** 63n - 1n;

/** A position read as a number: past 2^53 - 1 (8 PiB, more than any medium) it is cut there. */
const clipped = (n: bigint): number => Number(n < MAX_SAFE ? n : MAX_SAFE);

/**
 * A block line as ddrescue writes it ("0x%08llX  0x%08llX  %c", up to 13 hex digits so the numbers stay below
 * 2^52), status valid; what follows the status is ignored, as sscanf does. Any other line takes the Scanner.
 */
const FAST_BLOCK = /^0[xX]([0-9a-fA-F]{1,13})[ \t\n\r\v\f]+0[xX]([0-9a-fA-F]{1,13})[ \t\n\r\v\f]+([?*\/+-])/;

/**
 * Parses a mapfile as ddrescue 1.27 reads it. Throws MapfileError with ddrescue's message and line number.
 * Numbers are read up to 2^63 - 1, as ddrescue reads them (ddrescuelog -c writes a last area that ends there), but
 * positions are cut at 2^53 - 1: a block that ends past it is shortened, one that starts past it is dropped.
 */
export function parseMapfile(text: string, inputSize?: number): ParsedMapfile {
  const lines = logicalLines(text);
  const first = lines.next();
  if (first.done) return { currentPos: 0, phase: '?', pass: 1, blocks: [] };

  const st = new Scanner(first.value.text);
  const pos = st.lli();
  const ch = pos === undefined ? undefined : st.char();
  const pass = ch === undefined ? undefined : st.int();
  if (
    pos === undefined ||
    ch === undefined ||
    pos < 0n ||
    !isMapfilePhase(ch) ||
    (pass !== undefined && (pass < 1n || pass > 2147483647n))
  ) {
    // An editor's byte-order mark turns the first comment into the "status line": ddrescue refuses it as well.
    const bom = /^(\uFEFF|\xEF\xBB\xBF)/.test(text) && first.value.line === 1;
    throw new MapfileError(first.value.line, bom ? `${BAD_STATUS_LINE} The file starts with a UTF-8 byte-order mark (EF BB BF), which ddrescue does not read either: save it without one.` : BAD_STATUS_LINE);
  }
  const result: ParsedMapfile = { currentPos: clipped(pos), phase: ch, pass: pass === undefined ? 1 : Number(pass), blocks: [] };

  // End of the previous block (a bigint only past 2^53 - 1); the first block may start anywhere.
  let end: number | bigint | undefined;
  for (const { text: t, line } of lines) {
    const fast = FAST_BLOCK.exec(t);
    if (fast) {
      // The form writers use, read without BigInt (200,000 lines in tens of ms); same result as the Scanner.
      const p = parseInt(fast[1], 16);
      const size = parseInt(fast[2], 16);
      if (!(size > 0 || (size === 0 && p === 0))) throw new MapfileError(line, BAD_BLOCK_LINE);
      if (end !== undefined && p !== end) throw new MapfileError(line, NOT_CONTIGUOUS);
      if (!Number.isSafeInteger(p + size)) throw new MapfileError(line, BAD_BLOCK_LINE);
      end = p + size;
      if (inputSize !== undefined && fast[3] === '+' && end > inputSize) throw new MapfileError(line, PAST_END);
      if (size > 0) result.blocks.push({ pos: p, size, status: fast[3] as SectorStatus });
      continue;
    }
    const sc = new Scanner(t);
    const bpos = sc.lli();
    const bsize = bpos === undefined ? undefined : sc.lli();
    const bst = bsize === undefined ? undefined : sc.char();
    if (
      bpos === undefined ||
      bsize === undefined ||
      bst === undefined ||
      bpos < 0n ||
      !isSectorStatus(bst) ||
      !(bsize > 0n || (bsize === 0n && bpos === 0n))
    ) {
      throw new MapfileError(line, BAD_BLOCK_LINE);
    }
    if (end !== undefined && bpos !== BigInt(end)) throw new MapfileError(line, NOT_CONTIGUOUS);
    const bend = bpos + bsize < LLONG_MAX ? bpos + bsize : LLONG_MAX; // ddrescue cuts a size that passes 2^63 - 1
    end = bend <= MAX_SAFE ? Number(bend) : bend;
    if (inputSize !== undefined && bst === '+' && bend > BigInt(inputSize)) throw new MapfileError(line, PAST_END);
    const [p, e] = [clipped(bpos), clipped(bend)];
    if (e > p) result.blocks.push({ pos: p, size: e - p, status: bst });
  }
  return result;
}

/** Bytes looked at before the rest of a mapfile is read: a mapfile's status line comes within its first lines. */
const HEAD_BYTES = 64 * 1024;

/**
 * The largest mapfile read (about 7 million blocks: a medium with millions of bad areas). Past it the text would not
 * fit in one string (Node's limit is 512 MiB: "Cannot create a string longer than…", exit 2) or in memory as blocks.
 */
export const MAX_MAPFILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads a mapfile the user named, refusing what is plainly not one (a disk image, a device, a mount's /raw) from
 * its first 64 KiB, before reading the rest: a medium is never read whole (or into memory) to find that out.
 * A mapfile is text, and its first lines hold the status line; errors there name their line, as parseMapfile does.
 */
export async function readMapfileText(file: string, encoding: 'latin1' | 'utf8' = 'latin1', maxBytes = MAX_MAPFILE_BYTES): Promise<string> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(at === 0 ? HEAD_BYTES : 1 << 20);
      // From the current position (null), not at `at`: a pipe (`<(ddrescuelog …)`) cannot seek, and gave ESPIPE.
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      parts.push(buf.subarray(0, bytesRead));
      if (at === 0) checkMapfileHead(parts[0]);
      at += bytesRead;
      if (at > maxBytes) {
        // The line that byte `maxBytes` is on.
        let line = 1;
        let left = maxBytes;
        for (const p of parts) {
          const chunk = p.subarray(0, Math.min(p.length, left));
          for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) line++;
          left -= chunk.length;
          if (left === 0) break;
        }
        throw new MapfileError(line, `not a mapfile: larger than ${maxBytes} bytes`);
      }
    }
    return Buffer.concat(parts).toString(encoding);
  } finally {
    await fh.close();
  }
}

function checkMapfileHead(head: Buffer): void {
  const nul = head.indexOf(0);
  if (nul >= 0) throw new MapfileError(head.subarray(0, nul).toString('latin1').split('\n').length, 'not a mapfile: binary data (a NUL byte)');
  // The complete lines of the head, parsed as a mapfile of their own: a bad status line is refused now.
  const lastNewline = head.lastIndexOf(0x0a);
  if (lastNewline < 0) return; // one long line: the full parse decides
  parseMapfile(head.subarray(0, lastNewline + 1).toString('latin1'));
}
