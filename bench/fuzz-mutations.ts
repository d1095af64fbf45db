// The fuzzers' deterministic randomness and their mutations of SBX containers, mapfiles and option values
// (bench/fuzz-inputs.ts runs the CLI on them).
import { computeBlockCrc, parseHeader } from '../src/sbx/format/header';
import { blockSizeOf, SbxVersion } from '../src/sbx/format/specs';

// ---- deterministic randomness -----------------------------------------------------------------------------------

let rngState = 1;
/** Seeds the generator: one seed, one sequence of cases. */
export function seedRandom(seed: number): void {
  rngState = seed >>> 0 || 1;
}
export function rand(): number {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
export const int = (n: number): number => Math.floor(rand() * n);
export const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
export const chance = (p: number): boolean => rand() < p;

// ---- SBX mutations ----------------------------------------------------------------------------------------------

function blockSizeGuess(c: Buffer): number {
  const h = parseHeader(c, 0);
  return h ? blockSizeOf(h.version) : pick([128, 512, 4096]);
}

function fixCrc(c: Buffer, at: number): void {
  const h = parseHeader(c, at);
  if (!h || at + blockSizeOf(h.version) > c.length) return;
  const crc = computeBlockCrc(c, h.version, at);
  c[at + 4] = crc >> 8;
  c[at + 5] = crc & 0xff;
}

function blockStarts(c: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at + 16 <= c.length; at += 128) if (parseHeader(c, at)) out.push(at);
  return out;
}

function tlv(id: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id, 'latin1'), Buffer.from([value.length & 0xff]), value]);
}
function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n & 0xffffffffffffffffn);
  return b;
}

/** A metadata payload of odd but well-formed or barely malformed records. */
function oddMetadataPayload(version: SbxVersion): Buffer {
  const fields: Buffer[] = [];
  const n = 1 + int(6);
  for (let i = 0; i < n; i++) {
    switch (int(10)) {
      case 0: fields.push(tlv('FNM', Buffer.from(pick(['', '../escape.bin', '/tmp/abs.bin', 'a/b', '.', '..', 'x\0y', '\u00ff\u00fe', 'z'.repeat(200)]), 'latin1'))); break;
      case 1: fields.push(tlv('SNM', Buffer.from(pick(['', 'c.sbx', '\n\r'.repeat(10)]), 'latin1'))); break;
      case 2: fields.push(tlv('FSZ', u64(pick([0n, 1n, 2n ** 53n, 2n ** 64n - 1n, 2n ** 63n, BigInt(int(1e6)), 1n << 40n])))); break;
      case 3: fields.push(tlv(pick(['FDT', 'SDT']), u64(pick([0n, 2n ** 63n, 2n ** 64n - 1n, 253402300800n, BigInt(-1) & 0xffffffffffffffffn])))); break;
      case 4: fields.push(tlv('HSH', Buffer.concat([Buffer.from([pick([0x11, 0x12, 0x13, 0xb240, 0x00, 0xff]) & 0xff, int(80)]), Buffer.alloc(int(70), 0xab)]))); break;
      case 5: fields.push(tlv(pick(['RSD', 'RSP']), Buffer.from([pick([0, 1, 2, 128, 255, 254, int(256)])]))); break;
      case 6: fields.push(tlv(pick(['RSD', 'RSP', 'FSZ']), Buffer.alloc(int(3), 1))); break;
      case 7: fields.push(Buffer.from([0x1a, 0x1a, 0x1a])); break;
      case 8: fields.push(Buffer.from(pick(['FNM', 'HSH', 'XYZ']), 'latin1')); break;
      default: fields.push(Buffer.from(Array.from({ length: int(20) }, () => int(256))));
    }
  }
  const payload = Buffer.alloc(blockSizeOf(version) - 16, 0x1a);
  Buffer.concat(fields).copy(payload, 0, 0, payload.length);
  return payload;
}

type Mutation = (c: Buffer, seeds: Buffer[]) => Buffer;

const SBX_MUTATIONS: Record<string, Mutation> = {
  flipBits(c) {
    for (let i = 0, n = 1 + int(8); i < n && c.length; i++) c[int(c.length)] ^= 1 << int(8);
    return c;
  },
  randomBytes(c) {
    for (let i = 0, n = 1 + int(16); i < n && c.length; i++) c[int(c.length)] = int(256);
    return c;
  },
  truncate(c) {
    const bs = blockSizeGuess(c);
    const at = chance(0.5) ? int(Math.ceil(c.length / bs) + 1) * bs + pick([0, 0, 1, -1, 16, -16]) : int(c.length + 1);
    return c.subarray(0, Math.max(0, Math.min(c.length, at)));
  },
  extend(c, seeds) {
    const bs = blockSizeGuess(c);
    const extra = pick([
      () => Buffer.alloc(1 + int(bs * 3)),
      () => Buffer.from(Array.from({ length: 1 + int(bs * 2) }, () => int(256))),
      () => c.subarray(int(Math.max(1, c.length / bs)) * bs, int(Math.max(1, c.length / bs)) * bs + bs),
      () => pick(seeds),
      () => c,
    ])();
    return Buffer.concat(chance(0.2) ? [extra, c] : [c, extra]);
  },
  spliceHeader(c, seeds) {
    const other = pick(seeds);
    const starts = blockStarts(c);
    const otherStarts = blockStarts(other);
    if (!starts.length || !otherStarts.length) return c;
    const at = pick(starts);
    const from = pick(otherStarts);
    const len = chance(0.5) ? 16 : Math.min(blockSizeOf(parseHeader(other, from)!.version), other.length - from);
    other.copy(c, at, from, from + Math.min(len, c.length - at));
    return c;
  },
  zeroFill(c) {
    const bs = blockSizeGuess(c);
    const start = chance(0.6) ? int(Math.ceil(c.length / bs)) * bs : int(c.length);
    c.fill(0, start, Math.min(c.length, start + (chance(0.5) ? bs * (1 + int(4)) : 1 + int(64))));
    return c;
  },
  metadata(c) {
    const starts = blockStarts(c).filter((at) => parseHeader(c, at)!.seq === 0);
    if (!starts.length) return c;
    for (const at of chance(0.5) ? starts : [pick(starts)]) {
      const h = parseHeader(c, at)!;
      if (at + blockSizeOf(h.version) > c.length) continue;
      oddMetadataPayload(h.version).copy(c, at + 16);
      if (chance(0.9)) fixCrc(c, at);
    }
    return c;
  },
  /** One value of the existing metadata changed the same way in every copy, CRCs fixed: the workflows go deep. */
  metaField(c) {
    const starts = blockStarts(c).filter((at) => parseHeader(c, at)!.seq === 0);
    if (!starts.length) return c;
    const id = pick(['FSZ', 'RSD', 'RSP', 'HSH', 'FNM', 'FDT']);
    const odd = (len: number): Buffer => {
      if (len === 1) return Buffer.from([pick([0, 1, 2, 3, 9, 11, 64, 128, 200, 255])]);
      if (len === 8) return u64(pick([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 1n << 40n, BigInt(int(20000)), BigInt(int(300000))]));
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = chance(0.5) ? int(256) : 0x41;
      return b;
    };
    let value: Buffer | undefined;
    for (const at of starts) {
      const h = parseHeader(c, at)!;
      const end = Math.min(c.length, at + blockSizeOf(h.version));
      for (let p = at + 16; p + 4 <= end; ) {
        const fid = c.toString('latin1', p, p + 3);
        const len = c[p + 3];
        if (fid === id && p + 4 + len <= end) {
          value ??= id === 'HSH' && len > 2 && chance(0.5) ? Buffer.concat([c.subarray(p + 4, p + 6), odd(len - 2)]) : odd(len);
          value.copy(c, p + 4, 0, len);
        }
        if (!/^[A-Z]{3}$/.test(fid)) break;
        p += 4 + len;
      }
      if (end - at === blockSizeOf(h.version)) fixCrc(c, at);
    }
    return c;
  },
  headerFields(c) {
    const starts = blockStarts(c);
    if (!starts.length) return c;
    for (let i = 0, n = 1 + int(4); i < n; i++) {
      const at = pick(starts);
      switch (int(4)) {
        case 0: c[at + 3] = pick([1, 2, 3, 17, 18, 19]); break;
        case 1: c.writeUInt32BE(pick([0, 1, 0xffffffff, 0x7fffffff, int(1000), int(2 ** 32)]), at + 12); break;
        case 2: c[at + 6 + int(6)] ^= 1 + int(255); break;
        default: c.writeUInt32BE(int(64), at + 12);
      }
      if (chance(0.9)) fixCrc(c, at);
    }
    return c;
  },
  swapBlocks(c) {
    const bs = blockSizeGuess(c);
    const n = Math.floor(c.length / bs);
    if (n < 2) return c;
    const a = int(n) * bs;
    const b = int(n) * bs;
    const tmp = Buffer.from(c.subarray(a, a + bs));
    c.copy(c, a, b, b + bs);
    tmp.copy(c, b);
    return c;
  },
};

export function mutateContainer(seeds: Buffer[]): { bytes: Buffer; ops: string[] } {
  let c = Buffer.from(pick(seeds));
  const ops: string[] = [];
  for (let i = 0, n = 1 + int(3); i < n; i++) {
    const name = pick(Object.keys(SBX_MUTATIONS));
    ops.push(name);
    c = Buffer.from(SBX_MUTATIONS[name](c, seeds));
  }
  return { bytes: c, ops };
}

// ---- option values ----------------------------------------------------------------------------------------------

const ODD_NUMBERS = ['-1', '0', '1', '1.5', '1e3', '0x10', '0o7', '', ' 5', 'NaN', 'Infinity', '-0', '9007199254740993',
  '99999999999999999999999', '18446744073709551616', '5k', '4096', '511', '2147483648', '+3', '١٢'];

export function oddNumber(): string {
  return chance(0.85) ? pick(ODD_NUMBERS) : String(int(100000) - 50);
}

// ---- mapfile mutations ------------------------------------------------------------------------------------------

const HUGE = ['0xFFFFFFFFFFFFFFFF', '0x10000000000000000', '99999999999999999999', '0x7FFFFFFFFFFFFFFF', '-0x200', '0x', '0x-1',
  '1e9', '0777', '-1', '0x20000000000000', '0x1FFFFFFFFFFFFF', '00', '+0x10', '0x0000000000000000000000000010'];

export function mutateMapfile(text: string): { bytes: Buffer; ops: string[] } {
  let lines = text.split('\n');
  const ops: string[] = [];
  for (let i = 0, n = 1 + int(3); i < n; i++) {
    const op = int(17);
    const at = int(lines.length);
    ops.push(`m${op}`);
    switch (op) {
      case 0: lines.splice(at, 1); break;
      case 1: lines.splice(at, 0, lines[int(lines.length)] ?? ''); break;
      case 2: { const b = int(lines.length); [lines[at], lines[b]] = [lines[b], lines[at]]; break; }
      case 3: lines.splice(at, 0, pick(['# comment', '#', '   # indented', '', '   ', '\t', '#\r'])); break;
      case 4: lines[at] = (lines[at] ?? '').replace(/([+\-?*/FG])(\s*\d*\s*)$/, (_m, _s, rest) => pick(['x', 'g', '++', '', '\u00e9', '0', '#', 'f']) + rest); break;
      case 5: lines[at] = (lines[at] ?? '').replace(/0x[0-9A-Fa-f]+|\b\d+\b/, pick(HUGE)); break;
      case 6: lines = lines.map((l) => l + '\r'); break;
      case 7: lines = lines.filter((l) => l.startsWith('#') || !/^\S+\s+\S+\s*\d*\s*$/.test(l) || /\s\S+\s+\S+\s*$/.test(l) === false); break;
      case 8: lines.splice(at, 0, Array.from({ length: 1 + int(40) }, () => String.fromCharCode(int(256))).join('')); break;
      case 9: return { bytes: Buffer.from(lines.join('\n').slice(0, int(text.length + 1)), 'latin1'), ops };
      case 10: lines[at] = (lines[at] ?? '').replace(/ +/g, pick(['\t', '', '  ', ' \t '])); break;
      case 11: lines.splice(at, 0, `0x${int(0x30000).toString(16)}  0x${int(0x30000).toString(16)}  ${pick(['+', '-', '?', '*', '/'])}`); break;
      case 12: lines[at] = (lines[at] ?? '') + pick([' extra', ' 1 2', ' # trailing', '\0', ' 0x10']); break;
      case 13: lines[at] = (lines[at] ?? '').replace(/0x[0-9A-Fa-f]+/g, (h) => String(parseInt(h, 16))); break;
      case 14: lines.unshift('\ufeff' + (lines.shift() ?? '')); break;
      case 15: lines[at] = (lines[at] ?? '') + 'x'.repeat(70000); break;
      default: lines[at] = (lines[at] ?? '').replace(/0x[0-9A-Fa-f]+/, '0x0'); break;
    }
  }
  return { bytes: Buffer.from(lines.join('\n'), chance(0.9) ? 'latin1' : 'utf8'), ops };
}
