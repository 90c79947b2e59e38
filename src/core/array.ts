// The lazy n-dimensional array. An Array is either evaluated (it holds a backend buffer)
// or a node in the graph (a primitive applied to input arrays), or both while a
// transform keeps the graph alive.
import { DType, TypedArray, bool, int32, int64, float32, float64, uint8, uint16, uint32, uint64, int8, int16, toDtype, DTypeLike } from './dtype.js';
import { Stream, Device, toStream, OpOptions } from './device.js';
import { backendFor, Buffer } from './backend.js';
import type { Primitive } from './primitive.js';
import { toF16, toBF16 } from './half.js';
import { evalArrays, readHostSync, readHost } from './eval.js';
import { formatArray } from './format.js';
import { trackNew } from './scope.js';

(Symbol as { dispose?: symbol }).dispose ??= Symbol.for('Symbol.dispose');

/** One application of a primitive; shared by all of its outputs. */
export class Node {
  constructor(
    readonly prim: Primitive,
    readonly inputs: Array[],
    readonly params: unknown,
    public outputs: Array[],
  ) {}
}

/** Nested JS arrays of numbers, booleans or bigints. */
export type NestedArray = number | boolean | bigint | NestedArray[];
/** Anything an op accepts where an array goes. Bare numbers and booleans are weak scalars. */
export type ArrayLike = Array | NestedArray | TypedArray;

const finalizer = new FinalizationRegistry<{ buf: Buffer; device: Device }>(({ buf, device }) => dropBuffer(buf, device));

export function dropBuffer(buf: Buffer, device: Device): void {
  if (--buf.refs === 0) backendFor(device).release(buf);
}

let nextId = 0;

export class Array {
  readonly id = nextId++;
  _node: Node | null = null;
  _buf: Buffer | null = null;
  _disposed = false;

  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly stream: Stream,
  ) {
    trackNew(this);
  }

  get device(): Device { return this.stream.device; }
  get ndim(): number { return this.shape.length; }
  get size(): number { return shapeSize(this.shape); }
  get itemsize(): number { return this.dtype.size; }
  get nbytes(): number { return this.size * this.dtype.size; }
  get isEvaluated(): boolean { return this._buf !== null; }

  /** Attaches a buffer (taking one reference to it). */
  _setBuffer(buf: Buffer): void {
    if (this._buf) this._releaseBuffer();
    buf.refs++;
    this._buf = buf;
    finalizer.register(this, { buf, device: this.device }, this);
  }

  _releaseBuffer(): void {
    const buf = this._buf;
    if (!buf) return;
    this._buf = null;
    finalizer.unregister(this);
    dropBuffer(buf, this.device);
  }

  /** Frees the buffer now and cuts the graph; the array can no longer be used. */
  dispose(): void {
    this._releaseBuffer();
    this._node = null;
    this._disposed = true;
  }
  [Symbol.dispose](): void { this.dispose(); }

  _checkAlive(where: string): void {
    if (this._disposed) throw new Error(`[${where}] array ${this.id} of shape (${this.shape.join(',')}) was disposed`);
  }

  eval(): this { evalArrays([this]); return this; }

  /** Values as a TypedArray (float16 and bfloat16 become Float32Array; 64-bit integers stay BigInt). */
  dataSync(): TypedArray {
    this.eval();
    return toValues(readHostSync(this), this.dtype);
  }

  async data(): Promise<TypedArray> {
    this.eval();
    return toValues(await readHost(this), this.dtype);
  }

  item(): number | boolean | bigint {
    if (this.size !== 1) throw new Error(`[item] only arrays with one element can be read as a scalar, got shape (${this.shape.join(',')})`);
    const v = this.dataSync()[0];
    return this.dtype === bool ? v !== 0 : v;
  }

  tolist(): NestedArray {
    const vals = this.dataSync();
    const isBool = this.dtype === bool;
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.ndim) { const v = vals[off]; return isBool ? v !== 0 : v; }
      const n = this.shape[dim];
      const step = shapeSize(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(build(dim + 1, off + i * step));
      return out;
    };
    return build(0, 0);
  }

  toString(): string { return formatArray(this); }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Storage (raw bits for halves) to values a user reads. */
function toValues(storage: TypedArray, dtype: DType): TypedArray {
  if (dtype.name !== 'float16' && dtype.name !== 'bfloat16') return storage;
  const table = dtype.name === 'float16' ? halfTables.f16 : halfTables.bf16;
  const out = new Float32Array(storage.length);
  for (let i = 0; i < out.length; i++) out[i] = table[storage[i] as number];
  return out;
}
import { F16_TABLE, BF16_TABLE } from './half.js';
const halfTables = { f16: F16_TABLE, bf16: BF16_TABLE };

// ---------------------------------------------------------------- creation from JS values

function dtypeOfTyped(t: TypedArray): DType {
  if (t instanceof Float32Array) return float32;
  if (t instanceof Float64Array) return float64;
  if (t instanceof Int32Array) return int32;
  if (t instanceof Uint8Array) return uint8;
  if (t instanceof Int8Array) return int8;
  if (t instanceof Int16Array) return int16;
  if (t instanceof Uint16Array) return uint16;
  if (t instanceof Uint32Array) return uint32;
  if (t instanceof BigInt64Array) return int64;
  if (t instanceof BigUint64Array) return uint64;
  throw new TypeError('[array] unsupported TypedArray');
}

export function isTypedArray(x: unknown): x is TypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/** Shape and flat values of nested JS arrays; throws on ragged input. */
function flattenNested(x: NestedArray): { shape: number[]; flat: (number | boolean | bigint)[] } {
  const shape: number[] = [];
  let probe: NestedArray = x;
  while (globalThis.Array.isArray(probe)) { shape.push(probe.length); probe = probe[0]; }
  const flat: (number | boolean | bigint)[] = [];
  const walk = (v: NestedArray, dim: number): void => {
    if (dim === shape.length) {
      if (globalThis.Array.isArray(v)) throw new Error(`[array] ragged nested array: expected a scalar at depth ${dim}`);
      flat.push(v);
      return;
    }
    if (!globalThis.Array.isArray(v) || v.length !== shape[dim])
      throw new Error(`[array] ragged nested array: expected length ${shape[dim]} at depth ${dim}, got ${globalThis.Array.isArray(v) ? v.length : 'a scalar'}`);
    for (const e of v) walk(e, dim + 1);
  };
  walk(x, 0);
  return { shape, flat };
}

/**
 * JS has one number type: a number reads as an integer literal when it is integral and
 * within the 64-bit integer range (so 3.4e38, a float32 bound, is a float, as in Python).
 */
export function isIntegerLiteral(v: number): boolean { return Number.isInteger(v) && Math.abs(v) <= 2 ** 64; }
export function fitsInt32(v: number): boolean { return v >= -2147483648 && v <= 2147483647; }

/** The dtype MLX gives JS values: all booleans -> bool, bigints -> int64, integers -> int32, else float32. */
function inferDtype(flat: (number | boolean | bigint)[]): DType {
  if (flat.length === 0) return float32;
  let allBool = true, anyBig = false, allInt = true;
  for (const v of flat) {
    if (typeof v !== 'boolean') allBool = false;
    if (typeof v === 'bigint') anyBig = true;
    else if (typeof v === 'number' && !(isIntegerLiteral(v) && fitsInt32(v))) allInt = false;
  }
  if (allBool) return bool;
  if (anyBig) return allInt ? int64 : float32;
  return allInt ? int32 : float32;
}

/** Writes JS values into new storage for `dtype`, converting as a C cast would. */
export function toStorage(values: globalThis.ArrayLike<number | boolean | bigint>, dtype: DType): TypedArray {
  const n = values.length;
  const ctor = { bool: Uint8Array, uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int8: Int8Array, int16: Int16Array, int32: Int32Array, float16: Uint16Array, bfloat16: Uint16Array, float32: Float32Array, float64: Float64Array, int64: BigInt64Array, uint64: BigUint64Array }[dtype.name];
  const out = new ctor(n) as TypedArray;
  switch (dtype.name) {
    case 'bool':
      for (let i = 0; i < n; i++) { const v = values[i]; out[i] = (typeof v === 'bigint' ? v !== 0n : v ? 1 : 0) as never; }
      break;
    case 'float16': for (let i = 0; i < n; i++) out[i] = toF16(Number(values[i])); break;
    case 'bfloat16': for (let i = 0; i < n; i++) out[i] = toBF16(Number(values[i])); break;
    case 'float32': case 'float64':
      for (let i = 0; i < n; i++) out[i] = Number(values[i]); break;
    case 'int64': case 'uint64': {
      const o = out as BigInt64Array;
      for (let i = 0; i < n; i++) o[i] = toBigInt(values[i]);
      break;
    }
    default:
      for (let i = 0; i < n; i++) { const v = values[i]; out[i] = (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : truncNum(Number(v))); }
  }
  return out;
}

function truncNum(v: number): number { return Number.isFinite(v) ? Math.trunc(v) : 0; }
function toBigInt(v: number | boolean | bigint): bigint {
  if (typeof v === 'bigint') return v;
  const n = Number(v);
  return Number.isFinite(n) ? BigInt(Math.trunc(n)) : 0n;
}

/** An evaluated array holding a copy of `storage` (already in dtype's layout). */
export function fromStorage(storage: TypedArray, shape: readonly number[], dtype: DType, stream: Stream): Array {
  const a = new Array(shape, dtype, stream);
  a._setBuffer(backendFor(stream.device).fromHost(storage, dtype));
  return a;
}

/**
 * `mx.array(x, dtype?)`: an array from numbers, booleans, bigints, nested JS arrays,
 * TypedArrays or another array.
 */
export function array(x: ArrayLike, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  const stream = toStream(opts?.stream);
  const dt = dtype ? toDtype(dtype, 'array') : undefined;
  if (x instanceof Array) {
    x._checkAlive('array');
    if ((!dt || dt === x.dtype) && x.stream === stream) return x;
    return copyTo(x, dt ?? x.dtype, stream);
  }
  if (isTypedArray(x)) {
    const src = dtypeOfTyped(x);
    const target = dt ?? src;
    const storage = target === src ? x.slice() : toStorage(x as globalThis.ArrayLike<number | bigint>, target);
    return fromStorage(storage, [x.length], target, stream);
  }
  const { shape, flat } = flattenNested(x);
  const target = dt ?? inferDtype(flat);
  return fromStorage(toStorage(flat, target), shape, target, stream);
}

// astype and device copies come from ops; injected here to keep this file free of op imports.
let copyImpl: (x: Array, dtype: DType, stream: Stream) => Array = () => { throw new Error('ops not loaded'); };
export function setCopyImpl(fn: typeof copyImpl): void { copyImpl = fn; }
function copyTo(x: Array, dtype: DType, stream: Stream): Array { return copyImpl(x, dtype, stream); }

/** Weak scalars (bare JS numbers/booleans) are kept apart so ops can apply MLX's promotion. */
export function isWeakScalar(x: unknown): x is number | boolean {
  return typeof x === 'number' || typeof x === 'boolean';
}

/** Any ArrayLike as an Array (weak scalars take their default dtype). */
export function asArray(x: ArrayLike, stream?: Stream): Array {
  if (x instanceof Array) { x._checkAlive('op'); return x; }
  return array(x, null, stream ? { stream } : undefined);
}
