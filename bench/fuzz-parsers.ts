/**
 * In-process companion of fuzz-inputs.ts: the pure parsers of user input run on many mutated inputs per second.
 * Each may return or throw its own error class for bad input (a BlkfsError, or RangeError where the caller turns it
 * into one); anything else (a TypeError, URIError, an invariant broken in what was returned) is a finding.
 *
 * Usage: node dist/bench/fuzz-parsers.js [--seed N] [--iterations N]
 */
import { parseArchiveMeta } from '../src/cli/archive-meta';
import { parseBurst, parseU64, parseUid } from '../src/cli/sbx/options';
import { parseDat } from '../src/archive/dat';
import { parseMapfile } from '../src/cache/mapfile';
import { BlkfsError } from '../src/errors';
import { fileMatcher } from '../src/files/glob';
import { parseRescueLog } from '../src/sbx/rescue';
import { parseMetadataPayload } from '../src/sbx/format/metadata';
import { parseHttpAddress } from '../src/server/http-address';
import { parseSourceArg } from '../src/source/source-spec';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
const SEED = Number(arg('seed', String(Date.now() % 1e9)));
const ITERATIONS = Number(arg('iterations', '200000'));

let state = SEED >>> 0 || 1;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const ALPHABET = ['0', '1', '9', 'x', 'X', 'f', ' ', '\t', '\n', '\r', '#', '+', '-', '?', '*', '/', 'F', 'G', '%', ':', '[', ']', '@',
  '=', '<', '>', '"', '&', ';', '\0', '\u00ff', '\ud800', 'é', '.', '\\', '{', '}', '(', ')', '^', '$', '|'];

/** Text mutation: splice in characters, tokens or pieces of the text itself. */
function mutateText(seed: string, tokens: readonly string[]): string {
  let s = seed;
  for (let i = 0, n = 1 + int(4); i < n; i++) {
    const at = int(s.length + 1);
    switch (int(6)) {
      case 0: s = s.slice(0, at) + pick(ALPHABET) + s.slice(at); break;
      case 1: s = s.slice(0, at) + s.slice(at + 1 + int(8)); break;
      case 2: s = s.slice(0, at) + pick(tokens) + s.slice(at); break;
      case 3: { const b = int(s.length); s = s.slice(0, at) + s.slice(b, b + int(40)) + s.slice(at); break; }
      case 4: s = s.slice(0, at) + pick(tokens) + s.slice(at + int(6)); break;
      default: s = s.slice(0, at);
    }
  }
  return s;
}

type Parser = { name: string; seeds: string[]; tokens: string[]; run: (text: string) => void; ok: (err: unknown) => boolean };

const isBlkfs = (err: unknown) => err instanceof BlkfsError;

const PARSERS: Parser[] = [
  {
    name: 'mapfile',
    seeds: ['# c\n0x00000000     +               1\n0x00000000  0x00010000  +\n0x00010000  0x00000800  -\n0x00010800  0x1000  ?\n', '0 +\n0 0x20000 +\n', '0x100 ? 2\n0 0x100 *\n0x100 0x100 /\n'],
    tokens: ['0xFFFFFFFFFFFFFFFF', '0x1FFFFFFFFFFFFF', '0x20000000000000', '9007199254740993', '-0x10', '0x', '0777', '08', '2147483648', ' # c', '\r\n'],
    run(text) {
      const m = parseMapfile(text);
      let end: number | undefined;
      for (const b of m.blocks) {
        if (!(Number.isSafeInteger(b.pos) && Number.isSafeInteger(b.size) && b.size > 0 && b.pos >= 0)) throw new Error(`invariant: bad block ${JSON.stringify(b)}`);
        if (end !== undefined && b.pos !== end) throw new Error('invariant: blocks not contiguous');
        if (!Number.isSafeInteger(b.pos + b.size)) throw new Error('invariant: end beyond 2^53');
        end = b.pos + b.size;
      }
      if (!Number.isSafeInteger(m.currentPos) || m.currentPos < 0) throw new Error(`invariant: current position ${m.currentPos}`);
    },
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'dat',
    seeds: ['<?xml version="1.0"?><datafile><header><name>N</name></header><game name="g"><rom name="r" size="10" crc="0a1b2c3d" sha1="' + 'a'.repeat(40) + '"/></game></datafile>'],
    tokens: ['<game>', '</game>', '<rom size="1"/>', '<!DOCTYPE d [<!ENTITY e "x">]>', '&e;', '&amp;', '&#0;', '&#xD800;', '<![CDATA[x]]>', '<machine name="m">', '__proto__', 'constructor', '<?xml?>', '<!-- c -->', 'size=""'],
    run(text) {
      const d = parseDat(text, 'x.dat');
      for (const r of d.roms) if (!Number.isSafeInteger(r.size) || typeof r.game !== 'string' || typeof r.rom !== 'string') throw new Error(`invariant: bad rom ${JSON.stringify(r)}`);
    },
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'rescue-log',
    seeds: ['bytes_processed=1024\nblocks_processed=2\nmeta_blocks_processed=1\ndata_blocks_processed=1\n'],
    tokens: ['99999999999999999999', '=', '\r\n', 'bytes_processed'],
    run: (text) => void parseRescueLog(text),
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'source-uri',
    seeds: ['nbd://host:10809/export', 'nbd+unix:///e?socket=/tmp/s.sock', 'nbd://[::1]:5000/a%2Fb'],
    tokens: ['%', '%ZZ', '%E0%A4', '%00', '?socket=', '&socket=/x', '#frag', 'user@', ':99999', ':0', '[', ']', 'nbds://', 'NBD://'],
    run: (text) => void parseSourceArg(text),
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'http-address',
    seeds: ['127.0.0.1:8080', '[::1]:0', '8080'],
    tokens: ['65536', '99999999999999999999', '[', ']', ':'],
    run: (text) => void parseHttpAddress(text),
    ok: (err) => err instanceof RangeError && /--http wants/.test(err.message),
  },
  {
    name: 'glob',
    seeds: ['/**/*.txt', '1:/DOCS/?.DOC', 'a/b/**'],
    tokens: ['**', '*', '?', '[', ']', '\\', '(', '{', '1:', '99999999999999999999:', '/'],
    run(text) {
      fileMatcher(text.split('\n')).matches(0, '/a/b/c.txt');
    },
    ok: () => false,
  },
  {
    name: 'archive-meta',
    seeds: ['Source-Organization=Archive', 'x=y'],
    tokens: ['=', '__proto__', 'constructor', 'toString', '\n'],
    run(text) {
      const m = parseArchiveMeta(text.split('\n'));
      if (Object.getPrototypeOf(m.s3) !== Object.prototype) throw new Error('invariant: s3 metadata object prototype changed');
    },
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'sbx-numbers',
    seeds: ['123', '+7', '0123456789ab'],
    tokens: ['18446744073709551615', '18446744073709551616', '9007199254740993', '-', '+', ' '],
    run(text) {
      parseU64(text, 'from position');
      parseBurst(text);
      parseUid(text);
    },
    ok: (err) => isBlkfs(err),
  },
  {
    name: 'sbx-metadata',
    seeds: [Buffer.from('FNM\x05a.binSNM\x05a.sbxFSZ\x08\0\0\0\0\0\0\x03\xe8HSH\x22\x12\x20' + 'a'.repeat(32) + 'RSD\x01\x0aRSP\x01\x02\x1a\x1a', 'latin1').toString('latin1')],
    tokens: ['FNM\xff', 'HSH\x00', 'HSH\x02\x12\x20', 'RSD\x01\x00', 'RSP\x01\xff', 'FSZ\x08\xff\xff\xff\xff\xff\xff\xff\xff', 'FDT\x08\x80\0\0\0\0\0\0\0', '\x1a'],
    run: (text) => void parseMetadataPayload(Buffer.from(text.padEnd(496, '\x1a').slice(0, 496), 'latin1')),
    ok: () => false,
  },
];

function main(): void {
  process.stdout.write(`fuzz-parsers: seed ${SEED}, ${ITERATIONS} iterations\n`);
  const seen = new Map<string, { count: number; example: string }>();
  const started = Date.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const p = PARSERS[i % PARSERS.length];
    const input = mutateText(pick(p.seeds), p.tokens);
    try {
      p.run(input);
    } catch (err) {
      // An error of the right class still says nothing useful with "undefined" or "NaN" in it.
      if (p.ok(err) && !/\bundefined\b|\bNaN\b/.test((err as Error).message)) continue;
      const e = err as Error;
      const key = `[${p.name}] ${e?.name}: ${String(e?.message).replace(/\d+/g, 'N').slice(0, 140)}`;
      const hit = seen.get(key);
      if (hit) hit.count++;
      else {
        seen.set(key, { count: 1, example: input });
        process.stdout.write(`FINDING ${seen.size} (iteration ${i}): ${key}\n  input: ${JSON.stringify(input).slice(0, 400)}\n  ${String(e?.stack).split('\n').slice(1, 3).join(' | ')}\n`);
      }
    }
  }
  process.stdout.write(`done: ${ITERATIONS} inputs in ${((Date.now() - started) / 1000).toFixed(1)} s, ${seen.size} distinct findings\n`);
  for (const [k, v] of seen) process.stdout.write(`  ${v.count}x ${k}\n`);
}

main();
