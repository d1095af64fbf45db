// Logiqx XML DAT files (redump, No-Intro): <datafile><header>…</header><game name="…"><rom name="…" size="…"
// crc="…" md5="…" sha1="…"/></game></datafile>. The verdict on a complete image names the entry whose size,
// CRC-32 and SHA-1 all match (MD5 and SHA-256 must match too where the DAT gives them), or says none does.
import * as fs from 'fs';
import type { ImageDigestValues } from './image-digests';
import { UserError } from '../errors';

export interface DatRom {
  game: string;
  rom: string;
  size: number;
  crc?: string;
  md5?: string;
  sha1?: string;
  sha256?: string;
}

export interface Dat {
  /** The header's name (e.g. "Sony - PlayStation"), if any. */
  name?: string;
  file: string;
  roms: DatRom[];
}

export type DatVerdict =
  | { match: true; game: string; rom: string; dat: string; text: string }
  | { match: false; dat: string; entries: number; text: string };

export class DatError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'DatError';
  }
}

const HEX = { crc: 8, md5: 32, sha1: 40, sha256: 64 } as const;

function asArray<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

type XmlRom = Record<string, string | undefined>;
type XmlGame = { '@_name'?: string; rom?: XmlRom | XmlRom[] };

/** Parses a Logiqx DAT; a file that is not one is a DatError (bad user input) naming the file. */
export function parseDat(text: string, file = 'DAT'): Dat {
  // Values stay the strings written: a name such as "1942" or "007" is no number, nor is a CRC "00123456".
  const { XMLParser, XMLValidator } = require('fast-xml-parser') as typeof import('fast-xml-parser'); // only with --dat: not at every mount's start
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseAttributeValue: false,
    parseTagValue: false,
    processEntities: true,
    // Character references (&#233; &#xE9;) are XML, yet the parser decodes them only with htmlEntities (which also
    // knows HTML names such as &nbsp;, absent from a well-formed DAT).
    htmlEntities: true,
  });
  // Validated first for the error's position: the parser's own message glues it on as ":line:col", and an
  // empty file gave ":1:undefined".
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const where = Number.isInteger(col) ? `line ${line}, column ${col}` : `line ${line}`;
    throw new DatError(`${file}: not a Logiqx XML DAT: ${where}: ${msg}`);
  }
  let doc: { datafile?: { header?: { name?: unknown }; game?: XmlGame | XmlGame[]; machine?: XmlGame | XmlGame[] } };
  try {
    doc = parser.parse(text) as typeof doc;
  } catch (err) {
    throw new DatError(`${file}: not a Logiqx XML DAT: ${parserFailure(text, err)}`);
  }
  const df = doc.datafile;
  if (!df || typeof df !== 'object') throw new DatError(`${file}: not a Logiqx XML DAT (no <datafile> element)`);
  const roms: DatRom[] = [];
  for (const g of [...asArray(df.game), ...asArray(df.machine)]) {
    for (const r of asArray(g.rom)) {
      // Decimal digits only: Number() took "" as 0 (an empty image matched a rom of unknown size) and "0x10" as 16.
      const sizeText = r['@_size']?.trim() ?? '';
      const size = /^\d+$/.test(sizeText) ? Number(sizeText) : NaN;
      if (!Number.isSafeInteger(size)) continue; // a rom without a size cannot be matched
      const rom: DatRom = { game: g['@_name'] ?? '', rom: r['@_name'] ?? '', size };
      for (const k of Object.keys(HEX) as (keyof typeof HEX)[]) {
        const v = r[`@_${k}`]?.trim().toLowerCase();
        if (v && new RegExp(`^[0-9a-f]{${HEX[k]}}$`).test(v)) rom[k] = v;
      }
      roms.push(rom);
    }
  }
  const name = typeof df.header?.name === 'string' && df.header.name.trim() !== '' ? df.header.name.trim() : undefined;
  return { name, file, roms };
}

/**
 * Where the parser gave up, in the validator's words. XML the validator lets by can still stop the parser, whose
 * messages are its internals ("readTagExp returned undefined at position 79"): its position becomes a line and column.
 */
function parserFailure(text: string, err: unknown): string {
  const at = /\bposition (\d+)/.exec(err instanceof Error ? err.message : String(err));
  if (!at) return 'XML the parser cannot read';
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return `line ${line}, column ${before.length - before.lastIndexOf('\n')}: a tag the XML parser cannot read`;
}

/**
 * The largest DAT read (the largest redump and No-Intro DATs are a few tens of MB). Past it, or given a disc image,
 * a device or /dev/zero by mistake, the file was read whole into memory: "ERR_STRING_TOO_LONG" after a GB, or an abort.
 */
export const MAX_DAT_BYTES = 256 * 1024 * 1024;
const HEAD_BYTES = 64 * 1024;

export function loadDat(file: string, maxBytes = MAX_DAT_BYTES): Dat {
  const cannot = (err: unknown) => new DatError(`cannot read the DAT file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw cannot(err);
  }
  const parts: Buffer[] = [];
  try {
    for (let at = 0; ; ) {
      const buf = Buffer.allocUnsafe(at === 0 ? HEAD_BYTES : 1 << 20);
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null); // from the current position: a pipe (<(curl …)) cannot seek
      } catch (err) {
        throw cannot(err);
      }
      if (n === 0) break;
      const nul = buf.subarray(0, n).indexOf(0);
      if (nul >= 0) throw new DatError(`${file}: not a Logiqx XML DAT: binary data (a NUL byte at byte ${at + nul})`);
      parts.push(buf.subarray(0, n));
      at += n;
      if (at > maxBytes) throw new DatError(`${file}: not a Logiqx XML DAT: larger than ${maxBytes} bytes`);
    }
  } finally {
    fs.closeSync(fd);
  }
  return parseDat(Buffer.concat(parts).toString('utf8'), file);
}

/** The DAT entry matching a complete image (size + CRC-32 + SHA-1, and MD5/SHA-256 where given), or none. */
export function datVerdict(dat: Dat, size: number, d: ImageDigestValues): DatVerdict {
  const label = dat.name ?? dat.file;
  const hit = dat.roms.find(
    (r) =>
      r.size === size &&
      r.crc === d.crc32 &&
      r.sha1 === d.sha1 &&
      (r.md5 === undefined || r.md5 === d.md5) &&
      (r.sha256 === undefined || r.sha256 === d.sha256),
  );
  if (hit) return { match: true, game: hit.game, rom: hit.rom, dat: label, text: `matches "${hit.game}" (${hit.rom}) in ${label}` };
  return { match: false, dat: label, entries: dat.roms.length, text: `no match among the ${dat.roms.length} entries of ${label}` };
}
