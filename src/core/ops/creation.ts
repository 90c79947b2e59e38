// Creation ops: full, zeros, ones, arange, linspace, eye, identity, tri, tril, triu, meshgrid.
// arange is the one primitive; the rest compose it with broadcasting and comparisons.
import { Array, ArrayLike, asArray, isWeakScalar } from '../array.js';
import { DType, DTypeLike, bool, float32, float64, int32, toDtype } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { broadcastTo, broadcastArrays, reshape } from './shape.js';
import { astype } from './astype.js';
import { add, subtract, multiply, divide, equal, greaterEqual, where } from './binary.js';
import { scalar, fmtShape } from './util.js';

export type ShapeLike = number | readonly number[];
export const toShape = (where: string, s: ShapeLike): number[] => {
  const shape = typeof s === 'number' ? [s] : [...s];
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`[${where}] invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  return shape;
};

/** An array of `shape` filled with `vals` (broadcast). */
export function full(shape: ShapeLike, vals: ArrayLike, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  return fill('full', shape, vals, dtype, opts);
}

/** full, with errors naming `op` (the function the user called). */
function fill(op: string, shape: ShapeLike, vals: ArrayLike, dtype: DTypeLike | null | undefined, opts?: OpOptions): Array {
  const s = toShape(op, shape);
  const stream = toStream(opts?.stream);
  const dt = dtype ? toDtype(dtype, op) : isWeakScalar(vals) ? (typeof vals === 'boolean' ? bool : Number.isInteger(vals) ? int32 : float32) : asArray(vals).dtype;
  const v = isWeakScalar(vals) ? scalar(vals, dt, stream) : astype(asArray(vals, stream), dt);
  if (v.ndim > s.length || v.shape.some((d, i) => d !== 1 && d !== s[s.length - v.ndim + i]))
    throw new Error(`[${op}] cannot broadcast the fill value of shape ${fmtShape(v.shape)} to shape ${fmtShape(s)}`);
  return broadcastTo(v, s, { stream });
}

export function zeros(shape: ShapeLike, dtype: DTypeLike = float32, opts?: OpOptions): Array { return fill('zeros', shape, 0, dtype, opts); }
export function ones(shape: ShapeLike, dtype: DTypeLike = float32, opts?: OpOptions): Array { return fill('ones', shape, 1, dtype, opts); }

export function fullLike(x: ArrayLike, vals: ArrayLike, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  return fillLike('fullLike', x, vals, dtype, opts);
}
function fillLike(op: string, x: ArrayLike, vals: ArrayLike, dtype: DTypeLike | null | undefined, opts?: OpOptions): Array {
  const a = asArray(x);
  return fill(op, a.shape, vals, dtype ?? a.dtype, { stream: opts?.stream ?? a.stream });
}
export function zerosLike(x: ArrayLike, opts?: OpOptions): Array { return fillLike('zerosLike', x, 0, null, opts); }
export function onesLike(x: ArrayLike, opts?: OpOptions): Array { return fillLike('onesLike', x, 1, null, opts); }

// ---------------------------------------------------------------- arange

/** Element i is start + i * step (see the CPU kernel for integer dtypes). */
export interface ArangeParams { start: number; step: number }

export const Arange = definePrimitive<ArangeParams>({
  name: 'arange',
  nonDifferentiable: 'arange has no array inputs',
  vjp: () => [],
  jvp: (_, { outputs: [y] }) => [zerosLike(y)],
  vmap: () => { throw new Error('[arange] has no array inputs, so there is nothing to batch'); },
});

/**
 * Evenly spaced values in [start, stop); `arange(n)` counts from 0. The dtype defaults
 * to int32 when start, stop and step are all integers, else float32 (as MLX).
 */
export function arange(start: number, stop?: number | null, step?: number | null, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  if (stop === undefined || stop === null) { stop = start; start = 0; }
  step ??= 1;
  const dt = dtype ? toDtype(dtype, 'arange') : [start, stop, step].every(Number.isInteger) ? int32 : float32;
  if (dt === bool) throw new TypeError('[arange] bool is not a valid dtype for arange');
  if ([start, stop, step].some((v) => typeof v !== 'number' || Number.isNaN(v)) || !Number.isFinite(start) || !Number.isFinite(stop))
    throw new Error(`[arange] cannot compute the length of a range with start ${start}, stop ${stop} and step ${step}`);
  if (step === 0) throw new Error('[arange] step must not be zero');
  let size: number;
  if (!Number.isFinite(step)) { size = (step > 0 ? start < stop : start > stop) ? 1 : 0; step = 0; }
  else size = Math.max(0, Math.ceil((stop - start) / step));
  if (size > 2 ** 31 - 1) throw new Error(`[arange] a range of ${size} elements is too large (the limit is 2^31 - 1)`);
  return bind1(Arange, [], { start, step }, { shape: [size], dtype: dt }, toStream(opts?.stream));
}

/** `num` evenly spaced values from start to stop inclusive, computed in float32 (float64 for float64). */
export function linspace(start: number, stop: number, num = 50, dtype: DTypeLike = float32, opts?: OpOptions): Array {
  if (!Number.isInteger(num) || num < 0) throw new Error(`[linspace] the number of samples must be a non-negative integer, got ${num}`);
  const dt = toDtype(dtype, 'linspace');
  const work = dt === float64 ? float64 : float32;
  if (num === 1) return astype(full([1], start, work, opts), dt, opts);
  // (1 - t) * start + t * stop hits both ends exactly.
  const t = divide(arange(0, num, 1, work, opts), num - 1, opts);
  return astype(add(multiply(subtract(1, t, opts), start, opts), multiply(t, stop, opts), opts), dt, opts);
}

// ---------------------------------------------------------------- eye, tri

function checkSizes(op: string, sizes: Record<string, number>): void {
  for (const [name, v] of Object.entries(sizes))
    if (!Number.isInteger(v) || (name !== 'k' && v < 0)) throw new Error(`[${op}] ${name} must be a ${name === 'k' ? '' : 'non-negative '}integer, got ${v}`);
}

/** Row indices i (as an (n, 1) column shifted by k) and column indices j (as (m,)). */
function rowsCols(n: number, m: number, k: number, opts?: OpOptions): [Array, Array] {
  return [add(reshape(arange(0, n, 1, int32, opts), [n, 1]), k, opts), arange(0, m, 1, int32, opts)];
}

/** An (n, m) array with ones on diagonal k (j - i = k). */
export function eye(n: number, m?: number | null, k = 0, dtype: DTypeLike = float32, opts?: OpOptions): Array {
  m ??= n;
  checkSizes('eye', { n, m, k });
  const [i, j] = rowsCols(n, m, k, opts);
  return astype(equal(i, j, opts), toDtype(dtype, 'eye'), opts);
}

export function identity(n: number, dtype: DTypeLike = float32, opts?: OpOptions): Array {
  checkSizes('identity', { n });
  return eye(n, n, 0, dtype, opts);
}

/** An (n, m) array with ones at and below diagonal k (j - i <= k). */
export function tri(n: number, m?: number | null, k = 0, dtype: DTypeLike = float32, opts?: OpOptions): Array {
  m ??= n;
  checkSizes('tri', { n, m, k });
  const [i, j] = rowsCols(n, m, k, opts);
  return astype(greaterEqual(i, j, opts), toDtype(dtype, 'tri'), opts);
}

function triangle(op: string, x: ArrayLike, k: number, lower: boolean, opts?: OpOptions): Array {
  const a = asArray(x);
  if (a.ndim < 2) throw new Error(`[${op}] the array must have at least 2 dimensions, got shape ${fmtShape(a.shape)}`);
  checkSizes(op, { k });
  const stream = opts?.stream ? toStream(opts.stream) : a.stream;
  const [n, m] = a.shape.slice(-2);
  const zero = scalar(0, a.dtype, stream);
  return lower ? where(tri(n, m, k, bool, { stream }), a, zero, { stream }) : where(tri(n, m, k - 1, bool, { stream }), zero, a, { stream });
}

/** Zeros above diagonal k of the last two axes. */
export function tril(x: ArrayLike, k = 0, opts?: OpOptions): Array { return triangle('tril', x, k, true, opts); }
/** Zeros below diagonal k of the last two axes. */
export function triu(x: ArrayLike, k = 0, opts?: OpOptions): Array { return triangle('triu', x, k, false, opts); }

// ---------------------------------------------------------------- meshgrid

/**
 * Coordinate arrays from 1-D coordinate vectors (inputs are flattened). 'xy' indexing
 * swaps the first two output axes (Cartesian), 'ij' does not (matrix); sparse keeps the
 * size-1 axes instead of broadcasting. Returns a JS array of arrays.
 */
export function meshgrid(arrays: readonly ArrayLike[], sparse = false, indexing: 'xy' | 'ij' = 'xy', opts?: OpOptions): Array[] {
  if (indexing !== 'xy' && indexing !== 'ij') throw new Error(`[meshgrid] indexing must be 'xy' or 'ij', got '${String(indexing)}'`);
  const nd = arrays.length;
  const outs = arrays.map((x, i) => {
    const shape = new globalThis.Array<number>(nd).fill(1);
    const at = indexing === 'xy' && nd > 1 && i < 2 ? 1 - i : i;
    shape[at] = -1;
    return reshape(asArray(x), shape, opts);
  });
  return sparse ? outs : broadcastArrays(outs, opts);
}
export type { DType };
