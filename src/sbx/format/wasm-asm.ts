/**
 * A tiny WebAssembly assembler: just enough to write the SBX kernels (wasm-kernels.ts) by hand, instruction by
 * instruction as in a .wat file, and get the module's bytes without a toolchain. Functions take and return i32;
 * one memory is defined and exported as "mem".
 */

export type ValType = 'i32' | 'v128';
const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, v128: 0x7b };

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const OPS: Record<string, number> = {
  'i32.eqz': 0x45,
  'i32.ne': 0x47,
  'i32.lt_u': 0x49,
  'i32.ge_u': 0x4f,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.mul': 0x6c,
  'i32.and': 0x71,
  'i32.or': 0x72,
  'i32.xor': 0x73,
  'i32.shl': 0x74,
  'i32.shr_u': 0x76,
  return: 0x0f,
  end: 0x0b,
};
const MEM_OPS: Record<string, number> = { 'i32.load': 0x28, 'i32.load8_u': 0x2d, 'i32.load16_u': 0x2f, 'i32.store8': 0x3a, 'i32.store16': 0x3b, 'i32.store': 0x36 };
const SIMD_OPS: Record<string, number> = {
  'i8x16.swizzle': 0x0e,
  'i8x16.splat': 0x0f,
  'v128.and': 0x4e,
  'v128.xor': 0x51,
  'i8x16.shr_u': 0x6d,
};
const SIMD_MEM_OPS: Record<string, number> = { 'v128.load': 0x00, 'v128.store': 0x0b };

/** Builds one function body. Locals are named; params come first, in order. */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly locals = new Map<string, number>();
  private readonly extra: ValType[] = [];

  constructor(readonly name: string, readonly params: string[], readonly results: ValType[] = []) {
    params.forEach((p, i) => this.locals.set(p, i));
  }

  local(name: string, type: ValType = 'i32'): this {
    if (this.locals.has(name)) throw new Error(`wasm-asm: local ${name} declared twice in ${this.name}`);
    this.locals.set(name, this.params.length + this.extra.length);
    this.extra.push(type);
    return this;
  }

  private index(name: string): number {
    const i = this.locals.get(name);
    if (i === undefined) throw new Error(`wasm-asm: unknown local ${name} in ${this.name}`);
    return i;
  }

  get(name: string): this {
    this.code.push(0x20, ...uleb(this.index(name)));
    return this;
  }
  set(name: string): this {
    this.code.push(0x21, ...uleb(this.index(name)));
    return this;
  }
  tee(name: string): this {
    this.code.push(0x22, ...uleb(this.index(name)));
    return this;
  }
  i32(n: number): this {
    this.code.push(0x41, ...sleb(n));
    return this;
  }
  /** A plain operator (i32.add, end, ...) or a SIMD one without immediates. */
  op(...names: string[]): this {
    for (const name of names) {
      if (name in OPS) this.code.push(OPS[name]);
      else if (name in SIMD_OPS) this.code.push(0xfd, ...uleb(SIMD_OPS[name]));
      else throw new Error(`wasm-asm: unknown op ${name}`);
    }
    return this;
  }
  /** A load or store with a constant offset (alignment hint 0: any address). */
  mem(name: string, offset = 0): this {
    if (name in MEM_OPS) this.code.push(MEM_OPS[name], 0, ...uleb(offset));
    else if (name in SIMD_MEM_OPS) this.code.push(0xfd, ...uleb(SIMD_MEM_OPS[name]), 0, ...uleb(offset));
    else throw new Error(`wasm-asm: unknown memory op ${name}`);
    return this;
  }
  /** memory.copy (bulk memory): dest, src, length on the stack. */
  memoryCopy(): this {
    this.code.push(0xfc, 10, 0, 0);
    return this;
  }
  /** call of the function with this index (the order given to assemble()). */
  call(index: number): this {
    this.code.push(0x10, ...uleb(index));
    return this;
  }
  /** i8x16.shuffle of the two vectors on the stack: lane i of the result is lane lanes[i] of (a ++ b). */
  shuffle(lanes: number[]): this {
    if (lanes.length !== 16) throw new Error('wasm-asm: a shuffle takes 16 lanes');
    this.code.push(0xfd, 0x0d, ...lanes);
    return this;
  }
  /** v128.const of 16 bytes. */
  v128(bytes: number[]): this {
    this.code.push(0xfd, 0x0c, ...bytes);
    return this;
  }
  block(): this {
    this.code.push(0x02, 0x40);
    return this;
  }
  loop(): this {
    this.code.push(0x03, 0x40);
    return this;
  }
  br(depth: number): this {
    this.code.push(0x0c, ...uleb(depth));
    return this;
  }
  brIf(depth: number): this {
    this.code.push(0x0d, ...uleb(depth));
    return this;
  }

  /** The body as the code section wants it: size, locals, instructions, end. */
  encode(): number[] {
    const groups: number[] = [];
    let count = 0;
    for (let i = 0; i < this.extra.length; i++) {
      if (i > 0 && this.extra[i] === this.extra[i - 1]) continue;
      let n = 1;
      while (i + n < this.extra.length && this.extra[i + n] === this.extra[i]) n++;
      groups.push(...uleb(n), TYPE_CODE[this.extra[i]]);
      count++;
    }
    const body = [...uleb(count), ...groups, ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}
function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}
function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...uleb(b.length), ...b];
}

/** A module of these functions (all exported by name) with one memory of `pages` 64 KiB pages, exported as "mem". */
export function assemble(functions: FunctionBuilder[], pages: number): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(f.params.map(() => [TYPE_CODE.i32])), ...vec(f.results.map((r) => [TYPE_CODE[r]]))]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(7, vec([[...str('mem'), 0x02, 0x00], ...functions.map((f, i) => [...str(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(functions.map((f) => f.encode()))),
  ];
  return Uint8Array.from(bytes);
}
