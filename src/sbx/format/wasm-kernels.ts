/**
 * The SBX hot loops as a hand-written WebAssembly module (assembled by wasm-asm.ts when first used):
 *  - rs: Reed-Solomon parity with 128-bit SIMD. A GF(2^8) product c·x is (c·lo(x)) ^ (c·hi(x)<<4) over the two
 *    nibbles of x, and i8x16.swizzle looks up 16 bytes in a 16-entry table at once, so one coefficient costs two
 *    swizzles per 16 bytes (the "split table" method of ISA-L/GF-Complete); identical results to the scalar code.
 *  - blocks: whole container blocks (signature, version, UID, seq, payload copy, CRC-16 by slicing-by-8), many
 *    per call, so the per-block work never crosses into JavaScript.
 * One instance per thread. Memory: [0, 4 KiB) the CRC slice tables, then a heap the caller lays out per call.
 * Everything here is checked against the scalar JavaScript code by the unit tests (same bytes).
 */
import { crc16, CRC16_TABLE } from './crc';
import { assemble, FunctionBuilder } from './wasm-asm';

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports: object);
    readonly exports: Record<string, unknown>;
  }
}

/** Heap start: after the eight 256-entry u16 CRC tables, the CRC nibble tables and their scratch. */
export const HEAP = 4224;
/** Largest heap a call may use; bigger jobs take the JavaScript path. */
export const MAX_HEAP = 256 * 1024 * 1024;

/** rs(data, parity, ds, sets, d, p, tables): parity of `sets` consecutive sets, ds % 16 == 0. */
function rsFunction(): FunctionBuilder {
  const f = new FunctionBuilder('rs', ['data', 'parity', 'ds', 'sets', 'd', 'p', 'tables']);
  f.local('s').local('j').local('i').local('k').local('dp').local('tp').local('dbase').local('pout');
  f.local('acc', 'v128').local('v', 'v128').local('mask', 'v128');
  f.i32(15).op('i8x16.splat').set('mask');
  f.i32(0).set('s');
  f.block().loop(); // sets
  {
    f.get('s').get('sets').op('i32.ge_u').brIf(1);
    f.get('data').get('s').get('d').op('i32.mul').get('ds').op('i32.mul').op('i32.add').set('dbase');
    f.i32(0).set('j');
    f.block().loop(); // parity rows
    {
      f.get('j').get('p').op('i32.ge_u').brIf(1);
      f.get('parity').get('s').get('p').op('i32.mul').get('j').op('i32.add').get('ds').op('i32.mul').op('i32.add').set('pout');
      f.i32(0).set('i');
      f.block().loop(); // 16-byte columns
      {
        f.get('i').get('ds').op('i32.ge_u').brIf(1);
        f.v128(new Array(16).fill(0)).set('acc');
        f.get('tables').get('j').get('d').op('i32.mul').i32(5).op('i32.shl').op('i32.add').set('tp');
        f.get('dbase').get('i').op('i32.add').set('dp');
        f.i32(0).set('k');
        f.loop(); // data shards
        {
          f.get('dp').mem('v128.load').set('v');
          f.get('acc');
          f.get('tp').mem('v128.load').get('v').get('mask').op('v128.and').op('i8x16.swizzle');
          f.get('tp').mem('v128.load', 16).get('v').i32(4).op('i8x16.shr_u').op('i8x16.swizzle');
          f.op('v128.xor', 'v128.xor').set('acc');
          f.get('tp').i32(32).op('i32.add').set('tp');
          f.get('dp').get('ds').op('i32.add').set('dp');
          f.get('k').i32(1).op('i32.add').tee('k').get('d').op('i32.lt_u').brIf(0);
        }
        f.op('end');
        f.get('pout').get('i').op('i32.add').get('acc').mem('v128.store');
        f.get('i').i32(16).op('i32.add').set('i').br(0);
      }
      f.op('end', 'end');
      f.get('j').i32(1).op('i32.add').set('j').br(0);
    }
    f.op('end', 'end');
    f.get('s').i32(1).op('i32.add').set('s').br(0);
  }
  f.op('end', 'end');
  return f;
}

/** Pushes S_k[index] where the index expression was just pushed (table k at k·512, u16 entries). */
function slice(f: FunctionBuilder, k: number): void {
  f.i32(1).op('i32.shl').mem('i32.load16_u', k * 512);
}

/**
 * blocks(jobs, count, ds, version, uid, out, r0): block n (at out + n·(ds+16)) from job n = (seq, payload address),
 * 8 bytes each; a payload address of -1 leaves that block to the caller (metadata copy, hole: its CRC bytes are
 * garbage until the caller overwrites the whole block). First every header and payload is written with the CRC
 * bytes zero, then the CRCs: sixteen blocks at a time in SIMD lanes (crc16x16), the rest one by one.
 */
function blocksFunction(): FunctionBuilder {
  const f = new FunctionBuilder('blocks', ['jobs', 'count', 'ds', 'version', 'uid', 'out', 'r0']);
  f.local('n').local('b').local('src').local('seq').local('p').local('end').local('crc').local('lo').local('hi').local('bs');
  f.get('ds').i32(16).op('i32.add').set('bs');
  f.i32(0).set('n');
  f.get('out').set('b');
  f.block().loop();
  {
    f.get('n').get('count').op('i32.ge_u').brIf(1);
    f.get('jobs').get('n').i32(3).op('i32.shl').op('i32.add').tee('p').mem('i32.load').set('seq');
    f.get('p').mem('i32.load', 4).set('src');
    f.block();
    {
      f.get('src').i32(-1).op('i32.ne').op('i32.eqz').brIf(0); // the caller's block
      // "SBx", version, CRC 0 (for now), UID, seq big-endian, payload
      f.get('b').i32(0x53).mem('i32.store8');
      f.get('b').i32(0x42).mem('i32.store8', 1);
      f.get('b').i32(0x78).mem('i32.store8', 2);
      f.get('b').get('version').mem('i32.store8', 3);
      f.get('b').i32(0).mem('i32.store8', 4);
      f.get('b').i32(0).mem('i32.store8', 5);
      f.get('b').i32(6).op('i32.add').get('uid').i32(6).memoryCopy();
      f.get('b').get('seq').i32(24).op('i32.shr_u').mem('i32.store8', 12);
      f.get('b').get('seq').i32(16).op('i32.shr_u').mem('i32.store8', 13);
      f.get('b').get('seq').i32(8).op('i32.shr_u').mem('i32.store8', 14);
      f.get('b').get('seq').mem('i32.store8', 15);
      f.get('b').i32(16).op('i32.add').get('src').get('ds').memoryCopy();
    }
    f.op('end');
    f.get('b').get('bs').op('i32.add').set('b');
    f.get('n').i32(1).op('i32.add').set('n').br(0);
  }
  f.op('end', 'end');
  // CRCs of whole groups of sixteen, then of the rest
  f.get('out').get('count').i32(4).op('i32.shr_u').get('bs').get('r0').i32(NIBBLE_TABLES).call(2); // crc16x16
  f.get('count').i32(-16).op('i32.and').set('n');
  f.get('out').get('n').get('bs').op('i32.mul').op('i32.add').set('b');
  f.block().loop();
  {
    f.get('n').get('count').op('i32.ge_u').brIf(1);
    // CRC-16/XMODEM of bytes 6 .. end from register = version, eight bytes per step
    f.get('version').set('crc');
    f.get('b').i32(6).op('i32.add').set('p');
    f.get('b').get('bs').op('i32.add').set('end');
    f.block().loop();
    {
      f.get('end').get('p').i32(8).op('i32.add').op('i32.lt_u').brIf(1); // end < p + 8
      f.get('p').mem('i32.load').set('lo');
      f.get('p').mem('i32.load', 4).set('hi');
      f.get('crc').i32(8).op('i32.shr_u').get('lo').i32(255).op('i32.and').op('i32.xor');
      slice(f, 7);
      f.get('crc').i32(255).op('i32.and').get('lo').i32(8).op('i32.shr_u').i32(255).op('i32.and').op('i32.xor');
      slice(f, 6);
      f.op('i32.xor');
      f.get('lo').i32(16).op('i32.shr_u').i32(255).op('i32.and');
      slice(f, 5);
      f.op('i32.xor');
      f.get('lo').i32(24).op('i32.shr_u');
      slice(f, 4);
      f.op('i32.xor');
      f.get('hi').i32(255).op('i32.and');
      slice(f, 3);
      f.op('i32.xor');
      f.get('hi').i32(8).op('i32.shr_u').i32(255).op('i32.and');
      slice(f, 2);
      f.op('i32.xor');
      f.get('hi').i32(16).op('i32.shr_u').i32(255).op('i32.and');
      slice(f, 1);
      f.op('i32.xor');
      f.get('hi').i32(24).op('i32.shr_u');
      slice(f, 0);
      f.op('i32.xor').set('crc');
      f.get('p').i32(8).op('i32.add').set('p').br(0);
    }
    f.op('end', 'end');
    f.block().loop();
    {
      f.get('p').get('end').op('i32.ge_u').brIf(1);
      f.get('crc').i32(8).op('i32.shl').i32(0xffff).op('i32.and');
      f.get('crc').i32(8).op('i32.shr_u').get('p').mem('i32.load8_u').op('i32.xor');
      slice(f, 0);
      f.op('i32.xor').set('crc');
      f.get('p').i32(1).op('i32.add').set('p').br(0);
    }
    f.op('end', 'end');
    f.get('b').get('crc').i32(8).op('i32.shr_u').mem('i32.store8', 4);
    f.get('b').get('crc').mem('i32.store8', 5);
    f.get('b').get('bs').op('i32.add').set('b');
    f.get('n').i32(1).op('i32.add').set('n').br(0);
  }
  f.op('end', 'end');
  return f;
}

/** Where the four 16-byte nibble tables of the CRC byte step live (THL, THH, TLL, TLH; see crc16x16Function). */
const NIBBLE_TABLES = 4096;

/** i8x16.shuffle lanes that interleave the low (or high) eight bytes of two vectors: punpck{l,h}bw. */
const UNPACK_LO = [0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23];
const UNPACK_HI = UNPACK_LO.map((x) => x + 8);

/**
 * crc16x16(out, groups, bs, reg0, tables): the CRCs of `groups` groups of sixteen consecutive bs-byte blocks whose
 * CRC bytes (4, 5) are zero, stored into those bytes. Lane i of a vector is block i of the group: each step
 * loads 16 bytes of every block, transposes them (four rounds of byte interleaving make a 16×16 transpose), and
 * runs 16 CRC byte steps on all sixteen registers at once. A byte step is crc' = (crc << 8) ^ T[(crc >> 8) ^ b];
 * T is linear, so T[x] = T[x & 15] ^ T[x & 0xF0]: four swizzle tables give its high and low bytes. The CRC is over
 * bytes 6..bs from register `version`; starting instead at byte 0 from reg0 (the register that bytes
 * "SBx", version, 0, 0 take to `version`) covers the whole block, so rows start at 16-byte boundaries.
 */
function crc16x16Function(): FunctionBuilder {
  const f = new FunctionBuilder('crc16x16', ['out', 'groups', 'bs', 'reg0', 'tables']);
  f.local('g').local('m').local('b').local('i');
  f.local('hi', 'v128').local('lo', 'v128').local('x', 'v128').local('ln', 'v128').local('hn', 'v128').local('mask', 'v128');
  f.local('thl', 'v128').local('thh', 'v128').local('tll', 'v128').local('tlh', 'v128');
  for (let r = 0; r < 16; r++) f.local(`r${r}`, 'v128');
  f.i32(15).op('i8x16.splat').set('mask');
  f.get('tables').mem('v128.load').set('thl');
  f.get('tables').mem('v128.load', 16).set('thh');
  f.get('tables').mem('v128.load', 32).set('tll');
  f.get('tables').mem('v128.load', 48).set('tlh');
  f.i32(0).set('g');
  f.block().loop();
  {
    f.get('g').get('groups').op('i32.ge_u').brIf(1);
    f.get('out').get('g').get('bs').op('i32.mul').i32(4).op('i32.shl').op('i32.add').set('b');
    f.get('reg0').i32(8).op('i32.shr_u').op('i8x16.splat').set('hi');
    f.get('reg0').op('i8x16.splat').set('lo');
    f.i32(0).set('m');
    f.block().loop();
    {
      f.get('m').get('bs').op('i32.ge_u').brIf(1);
      for (let r = 0; r < 16; r++) {
        f.get('b').get('m').op('i32.add');
        if (r > 0) f.get('bs').i32(r).op('i32.mul').op('i32.add');
        f.mem('v128.load').set(`r${r}`);
      }
      for (let stage = 0; stage < 4; stage++) {
        // next[2i] = lo(r_i, r_{i+8}), next[2i+1] = hi(r_i, r_{i+8}); computed on the stack, then stored back
        for (let i = 0; i < 8; i++) {
          f.get(`r${i}`).get(`r${i + 8}`).shuffle(UNPACK_LO);
          f.get(`r${i}`).get(`r${i + 8}`).shuffle(UNPACK_HI);
        }
        for (let r = 15; r >= 0; r--) f.set(`r${r}`);
      }
      for (let c = 0; c < 16; c++) {
        // x = hi ^ byte c; hi' = lo ^ THL[x & 15] ^ THH[x >> 4]; lo' = TLL[x & 15] ^ TLH[x >> 4]
        f.get('hi').get(`r${c}`).op('v128.xor').tee('x').get('mask').op('v128.and').set('ln');
        f.get('x').i32(4).op('i8x16.shr_u').set('hn');
        f.get('lo').get('thl').get('ln').op('i8x16.swizzle').op('v128.xor').get('thh').get('hn').op('i8x16.swizzle').op('v128.xor').set('hi');
        f.get('tll').get('ln').op('i8x16.swizzle').get('tlh').get('hn').op('i8x16.swizzle').op('v128.xor').set('lo');
      }
      f.get('m').i32(16).op('i32.add').set('m').br(0);
    }
    f.op('end', 'end');
    // lane i -> bytes 4, 5 of block i (through the table area's spare 32 bytes)
    f.get('tables').get('hi').mem('v128.store', 64);
    f.get('tables').get('lo').mem('v128.store', 80);
    f.i32(0).set('i');
    f.block().loop();
    {
      f.get('i').i32(16).op('i32.ge_u').brIf(1);
      f.get('b').get('i').get('bs').op('i32.mul').op('i32.add').tee('m');
      f.get('tables').get('i').op('i32.add').mem('i32.load8_u', 64).mem('i32.store8', 4);
      f.get('m').get('tables').get('i').op('i32.add').mem('i32.load8_u', 80).mem('i32.store8', 5);
      f.get('i').i32(1).op('i32.add').set('i').br(0);
    }
    f.op('end', 'end');
    f.get('g').i32(1).op('i32.add').set('g').br(0);
  }
  f.op('end', 'end');
  return f;
}

interface Exports {
  mem: WebAssembly.Memory;
  rs(data: number, parity: number, ds: number, sets: number, d: number, p: number, tables: number): void;
  blocks(jobs: number, count: number, ds: number, version: number, uid: number, out: number, r0: number): void;
}

/** The register from which bytes "SBx", version, 0, 0 lead to `version` (see crc16x16Function). */
function registerBefore(version: number): number {
  for (let r = 0; r < 65536; r++) if (crc16(Uint8Array.of(0x53, 0x42, 0x78, version, 0, 0), r) === version) return r;
  throw new Error(`no CRC register leads to ${version}`); // cannot happen: a CRC byte step is a bijection
}

/** The kernels of this thread: a view of their memory plus the two calls. */
export class SbxKernels {
  private u8: Uint8Array;
  private buf: Buffer;

  private constructor(private readonly x: Exports) {
    this.u8 = new Uint8Array(x.mem.buffer);
    this.buf = Buffer.from(x.mem.buffer);
    // The slice tables (crc.ts): S0 = the byte table, S_k[x] = S_{k-1}[x] advanced over one zero byte.
    const t = new Uint16Array(8 * 256);
    t.set(CRC16_TABLE);
    for (let k = 1; k < 8; k++) {
      for (let v = 0; v < 256; v++) {
        const prev = t[(k - 1) * 256 + v];
        t[k * 256 + v] = ((prev << 8) & 0xffff) ^ CRC16_TABLE[prev >> 8];
      }
    }
    new Uint16Array(x.mem.buffer, 0, 8 * 256).set(t); // wasm is little-endian, as are the hosts Node runs on
    for (let n = 0; n < 16; n++) {
      this.u8[NIBBLE_TABLES + n] = CRC16_TABLE[n] >> 8;
      this.u8[NIBBLE_TABLES + 16 + n] = CRC16_TABLE[n << 4] >> 8;
      this.u8[NIBBLE_TABLES + 32 + n] = CRC16_TABLE[n] & 0xff;
      this.u8[NIBBLE_TABLES + 48 + n] = CRC16_TABLE[n << 4] & 0xff;
    }
  }

  private readonly registers = new Map<number, number>();

  /** Memory bytes, valid until the next reserve(). */
  get bytes(): Buffer {
    return this.buf;
  }

  /** Makes [HEAP, HEAP + heapBytes) addressable; false when that is more than MAX_HEAP. */
  reserve(heapBytes: number): boolean {
    if (heapBytes > MAX_HEAP) return false;
    const need = HEAP + heapBytes;
    const mem = this.x.mem;
    if (mem.buffer.byteLength < need) {
      mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
      this.u8 = new Uint8Array(mem.buffer);
      this.buf = Buffer.from(mem.buffer);
    }
    return true;
  }

  /** Parity of `sets` sets laid out as ReedSolomon.encodeSets lays them (ds a multiple of 16). */
  rs(data: number, parity: number, ds: number, sets: number, d: number, p: number, tables: number): void {
    if (ds % 16 !== 0) throw new RangeError('rs kernel: shard size must be a multiple of 16');
    if (sets > 0) this.x.rs(data, parity, ds, sets, d, p, tables);
  }

  /** Whole blocks from jobs (see blocksFunction); `uid` is the address of the 6 UID bytes. */
  blocks(jobs: number, count: number, ds: number, version: number, uid: number, out: number): void {
    let r0 = this.registers.get(version);
    if (r0 === undefined) this.registers.set(version, (r0 = registerBefore(version)));
    if (count > 0) this.x.blocks(jobs, count, ds, version, uid, out, r0);
  }

  private static instance: SbxKernels | null | undefined;

  /** This thread's kernels, or null where WebAssembly SIMD is unavailable (callers use the JavaScript code). */
  static get(): SbxKernels | null {
    if (SbxKernels.instance === undefined) {
      SbxKernels.instance = null;
      if (process.env.BLKFS_NO_WASM) return null;
      try {
        const bytes = assemble([rsFunction(), blocksFunction(), crc16x16Function()], 1);
        const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
        SbxKernels.instance = new SbxKernels(inst.exports as unknown as Exports);
      } catch {
        SbxKernels.instance = null;
      }
    }
    return SbxKernels.instance;
  }
}
