// Argument handling shared by the ops: weak-scalar promotion, broadcasting, axes.
import { Array, ArrayLike, asArray, isWeakScalar, isIntegerLiteral, fitsInt32 } from '../array.js';
import { DType, bool, int32, float32, promoteTypes } from '../dtype.js';
import { Stream } from '../device.js';

export const fmtShape = (s: readonly number[]): string => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;

/** The dtype MLX gives an op over these arguments; JS numbers and booleans are weak. */
export function resultType(...args: ArrayLike[]): DType {
  let dt: DType | null = null;
  for (const a of args) if (!isWeakScalar(a)) dt = dt ? promoteTypes(dt, asArray(a).dtype) : asArray(a).dtype;
  for (const a of args) {
    if (!isWeakScalar(a)) continue;
    if (typeof a === 'boolean') dt ??= bool;
    else if (!isIntegerLiteral(a)) dt = dt && dt.isFloat ? dt : float32;
    else dt = !dt || dt === bool ? (fitsInt32(a) ? int32 : float32) : dt;
  }
  return dt ?? float32;
}

/** Arguments as arrays of one dtype (by default their promoted dtype). */
export function promoteArgs(args: ArrayLike[], stream: Stream, dtype?: DType): Array[] {
  const dt = dtype ?? resultType(...args);
  return args.map((a) => {
    if (isWeakScalar(a)) return scalar(a, dt, stream);
    return astype(asArray(a, stream), dt, { stream });
  });
}

/**
 * A 0-d constant. Constants are shared through a small cache, so ops given JS numbers
 * allocate nothing after the first use of a value and loops keep device memory flat. A
 * cached constant is pinned: no scope owns it, dispose() leaves it alone, and the cache
 * holds a reference to its buffer until it is evicted.
 */
export function scalar(v: number | boolean | bigint, dtype: DType, stream: Stream): Array {
  const key = `${stream.device}/${stream.index}/${dtype.name}/${typeof v}/${Object.is(v, -0) ? '-0' : String(v)}`;
  let a = constants.get(key);
  if (a && !a._disposed) {
    constants.delete(key); // most recently used last
    constants.set(key, a);
    return a;
  }
  a = keep(arrayFn(v, dtype, { stream }));
  a.dispose = () => {};
  a._buf!.refs++;
  constants.set(key, a);
  if (constants.size > MAX_CONSTANTS) {
    const [oldKey, old] = constants.entries().next().value!;
    constants.delete(oldKey);
    delete (old as Partial<Array>).dispose; // back to Array.prototype.dispose
    if (old._buf) dropBuffer(old._buf, old.device);
  }
  return a;
}
const constants = new Map<string, Array>();
const MAX_CONSTANTS = 1024;

export function broadcastShapes(where: string, ...shapes: (readonly number[])[]): number[] {
  const nd = Math.max(0, ...shapes.map((s) => s.length));
  const out = new globalThis.Array<number>(nd).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const od = nd - s.length + i;
      const d = s[i];
      if (out[od] === 1) out[od] = d;
      else if (d !== 1 && d !== out[od])
        throw new Error(`[${where}] shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together`);
    }
  }
  return out;
}

/** A possibly negative axis as an index in [0, ndim). */
export function normAxis(where: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    throw new Error(`[${where}] axis ${axis} is out of bounds for an array of dimension ${ndim}`);
  return axis < 0 ? axis + ndim : axis;
}

/** Axes for a reduction: undefined/null means all; duplicates are an error. */
export function normAxes(where: string, axis: number | number[] | null | undefined, ndim: number): number[] {
  if (axis === undefined || axis === null) return [...globalThis.Array(ndim).keys()];
  const list = (typeof axis === 'number' ? [axis] : axis).map((a) => normAxis(where, a, ndim));
  if (new Set(list).size !== list.length) throw new Error(`[${where}] repeated axis in (${(axis as number[]).join(',')})`);
  return list.sort((a, b) => a - b);
}

export function isArrayLike(x: unknown): x is ArrayLike {
  return x instanceof Array || typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint' || globalThis.Array.isArray(x) || ArrayBuffer.isView(x);
}

// Late-bound to avoid import cycles between op files.
import { array as arrayFn, dropBuffer } from '../array.js';
import { keep } from '../scope.js';
import { astype } from './astype.js';
