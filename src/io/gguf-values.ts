// GGUF metadata values: reading them from a file through a buffered cursor, and encoding
// them with each value's GGUF type (given, or inferred from the JS value).
import type { FileSource } from './file.js';

/** GGUF's value types, by id. */
export const VALUE_TYPES = ['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string', 'array', 'uint64', 'int64', 'float64'] as const;
export type GgufValueType = Exclude<(typeof VALUE_TYPES)[number], 'array'>;

/** A metadata value: 64-bit integers are bigints; arrays hold one type of value. */
export type GgufValue = number | bigint | boolean | string | GgufValue[];

const SIZES: Partial<Record<GgufValueType, number>> = {
  uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float32: 4, bool: 1, uint64: 8, int64: 8, float64: 8,
};

/** Sequential little-endian reads of a file, through a window of up to a few MiB. */
export class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private start = 0;
  private readonly dec = new TextDecoder('utf-8');

  constructor(private readonly file: FileSource, readonly fail: (msg: string) => never) {}

  get remaining(): number { return this.file.size - this.pos; }

  /** Makes `n` bytes at pos available; returns their offset in the window. */
  private need(n: number, what: string): number {
    if (this.pos + n > this.file.size) this.fail(`${what} at byte ${this.pos} runs past the end of the file (${this.file.size} bytes): truncated or corrupt`);
    if (this.pos < this.start || this.pos + n > this.start + this.buf.length) {
      const len = Math.min(this.file.size - this.pos, Math.max(n, 4 << 20));
      this.buf = this.file.read(this.pos, len, what);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.start = this.pos;
    }
    const at = this.pos - this.start;
    this.pos += n;
    return at;
  }

  // need() may move the window, so it runs before this.view / this.buf are read.
  private at(n: number, what: string): DataView { const at = this.need(n, what); this.off = at; return this.view; }
  private off = 0;

  u8(what: string): number { const at = this.need(1, what); return this.buf[at]; }
  u32(what: string): number { const v = this.at(4, what); return v.getUint32(this.off, true); }
  u64(what: string): bigint { const v = this.at(8, what); return v.getBigUint64(this.off, true); }

  /** A u64 count or size, as a number no larger than the file could hold. */
  count(what: string, elemBytes = 1): number {
    const n = this.u64(what);
    if (n * BigInt(elemBytes) > BigInt(this.remaining)) this.fail(`${what} ${n} is larger than the rest of the file (${this.remaining} bytes) allows: corrupt`);
    return Number(n);
  }

  str(what: string): string {
    const n = this.count(`${what} length`);
    const at = this.need(n, what);
    return this.dec.decode(this.buf.subarray(at, at + n));
  }

  value(type: number, what: string): GgufValue {
    const name = VALUE_TYPES[type];
    switch (name) {
      case 'uint8': return this.u8(what);
      case 'int8': return this.at(1, what).getInt8(this.off);
      case 'uint16': return this.at(2, what).getUint16(this.off, true);
      case 'int16': return this.at(2, what).getInt16(this.off, true);
      case 'uint32': return this.at(4, what).getUint32(this.off, true);
      case 'int32': return this.at(4, what).getInt32(this.off, true);
      case 'float32': return this.at(4, what).getFloat32(this.off, true);
      case 'float64': return this.at(8, what).getFloat64(this.off, true);
      case 'uint64': return this.at(8, what).getBigUint64(this.off, true);
      case 'int64': return this.at(8, what).getBigInt64(this.off, true);
      case 'bool': {
        const b = this.u8(what);
        if (b > 1) this.fail(`${what}: bool value ${b} is not 0 or 1`);
        return b === 1;
      }
      case 'string': return this.str(what);
      case 'array': {
        const elem = this.u32(`${what} element type`);
        if (VALUE_TYPES[elem] === undefined) this.fail(`${what}: unknown array element type ${elem}`);
        const n = this.count(`${what} length`, SIZES[VALUE_TYPES[elem] as GgufValueType] ?? 4);
        const out: GgufValue[] = new globalThis.Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value(elem, what);
        return out;
      }
      default: return this.fail(`${what}: unknown value type ${type}`);
    }
  }

  /** A typed value (type id, then value): the value, and its type (an array's element type). */
  entry(what: string): { value: GgufValue; type: GgufValueType | null } {
    const type = this.u32(`${what} type`);
    if (VALUE_TYPES[type] !== 'array') return { value: this.value(type, what), type: (VALUE_TYPES[type] as GgufValueType) ?? null };
    const mark = this.pos;
    const elem = this.u32(`${what} element type`);
    this.pos = mark;
    const value = this.value(type, what);
    return { value, type: VALUE_TYPES[elem] === 'array' ? null : (VALUE_TYPES[elem] as GgufValueType) };
  }
}

/** A growing little-endian byte buffer for the header. */
export class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  // room() may grow the buffer, so it runs before this.view / this.buf are read.
  private put(n: number, write: (v: DataView, at: number) => void): void { const at = this.room(n); write(this.view, at); }

  u8(x: number): void { this.put(1, (v, at) => v.setUint8(at, x)); }
  u32(x: number): void { this.put(4, (v, at) => v.setUint32(at, x, true)); }
  u64(x: number | bigint): void { this.put(8, (v, at) => v.setBigUint64(at, BigInt(x), true)); }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    const at = this.room(b.length);
    this.buf.set(b, at);
  }
  zeros(n: number): void { const at = this.room(n); this.buf.fill(0, at, at + n); }
  bytes(): Uint8Array { return this.buf.subarray(0, this.length); }

  /** Writes `value` as `type` with no type id (arrays: `elem` overrides their inferred element type). */
  value(value: GgufValue, type: GgufValueType | 'array', fail: (msg: string) => never, elem?: GgufValueType): void {
    const num = (): number => {
      if (typeof value !== 'number' && typeof value !== 'bigint') fail(`expected a number for ${type}, got ${typeof value}`);
      return Number(value);
    };
    const int = (lo: number, hi: number): number => {
      const x = num();
      if (!Number.isInteger(x) || x < lo || x > hi) fail(`${String(value)} is not a valid ${type}`);
      return x;
    };
    switch (type) {
      case 'uint8': this.u8(int(0, 255)); return;
      case 'int8': { const x = int(-128, 127); this.put(1, (v, at) => v.setInt8(at, x)); return; }
      case 'uint16': { const x = int(0, 65535); this.put(2, (v, at) => v.setUint16(at, x, true)); return; }
      case 'int16': { const x = int(-32768, 32767); this.put(2, (v, at) => v.setInt16(at, x, true)); return; }
      case 'uint32': { const x = int(0, 2 ** 32 - 1); this.put(4, (v, at) => v.setUint32(at, x, true)); return; }
      case 'int32': { const x = int(-(2 ** 31), 2 ** 31 - 1); this.put(4, (v, at) => v.setInt32(at, x, true)); return; }
      case 'float32': { const x = num(); this.put(4, (v, at) => v.setFloat32(at, x, true)); return; }
      case 'float64': { const x = num(); this.put(8, (v, at) => v.setFloat64(at, x, true)); return; }
      case 'uint64': case 'int64': {
        if (typeof value === 'number' && !Number.isSafeInteger(value)) fail(`${value} is not a valid ${type} (pass a bigint for large values)`);
        if (typeof value !== 'number' && typeof value !== 'bigint') fail(`expected an integer for ${type}, got ${typeof value}`);
        const b = BigInt(value);
        if (type === 'uint64' ? b !== BigInt.asUintN(64, b) : b !== BigInt.asIntN(64, b)) fail(`${b} is out of range for ${type}`);
        this.put(8, (v, at) => (type === 'uint64' ? v.setBigUint64(at, b, true) : v.setBigInt64(at, b, true)));
        return;
      }
      case 'bool': if (typeof value !== 'boolean') fail(`expected a boolean, got ${typeof value}`); this.u8(value ? 1 : 0); return;
      case 'string': if (typeof value !== 'string') fail(`expected a string, got ${typeof value}`); this.str(value); return;
      case 'array': {
        if (!globalThis.Array.isArray(value)) fail(`expected an array, got ${typeof value}`);
        const el = elem ?? inferType(value, fail);
        this.u32(VALUE_TYPES.indexOf(el));
        this.u64(value.length);
        for (const x of value) this.value(x, el, fail);
        return;
      }
    }
  }

  /** A typed value: its type id, then the value. `type` overrides inference (for arrays: of the elements). */
  entry(value: GgufValue, type: GgufValueType | undefined, fail: (msg: string) => never): void {
    if (globalThis.Array.isArray(value)) {
      this.u32(VALUE_TYPES.indexOf('array'));
      this.value(value, 'array', fail, type);
      return;
    }
    const t = type ?? inferType(value, fail);
    this.u32(VALUE_TYPES.indexOf(t));
    this.value(value, t, fail);
  }
}

/**
 * The GGUF type a JS value is written as when none is given: strings, booleans; integers as
 * uint32 (int32 if negative, int64 past 32 bits), other numbers as float32 (as llama.cpp
 * stores its hyper-parameters), bigints as int64. For arrays, the type of their elements.
 */
export function inferType(value: GgufValue, fail: (msg: string) => never): GgufValueType | 'array' {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'bigint') return value > 2n ** 63n - 1n ? 'uint64' : 'int64';
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return 'float32';
    if (value >= 0 && value < 2 ** 32) return 'uint32';
    if (value >= -(2 ** 31) && value < 0) return 'int32';
    return 'int64';
  }
  if (!globalThis.Array.isArray(value)) fail(`cannot store ${typeof value} in GGUF metadata`);
  // Array elements share one type: the widest their values need (int32 for integers, as
  // llama.cpp's token types are).
  const kinds = new Set(value.map((x) => (globalThis.Array.isArray(x) ? 'array' : typeof x)));
  if (kinds.size > 1) fail(`array elements mix ${[...kinds].join(' and ')}; GGUF arrays hold one type`);
  const kind = [...kinds][0] ?? 'number';
  if (kind === 'string') return 'string';
  if (kind === 'boolean') return 'bool';
  if (kind === 'array') return 'array';
  if (kind === 'bigint') return 'int64';
  if (kind !== 'number') fail(`cannot store ${kind} in GGUF metadata`);
  const nums = value as number[];
  if (!nums.every(Number.isInteger)) return 'float32';
  return nums.every((x) => x >= -(2 ** 31) && x < 2 ** 31) ? 'int32' : 'int64';
}
