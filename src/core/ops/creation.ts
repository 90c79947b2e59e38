// Creation ops: full, zeros, ones, arange, linspace, eye, identity, tri, tril, triu, meshgrid.
import { Array, ArrayLike, asArray, isWeakScalar } from '../array.js';
import { DType, DTypeLike, bool, float32, int32, toDtype } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { broadcastTo } from './shape.js';
import { astype } from './astype.js';
import { scalar, fmtShape } from './util.js';

export type ShapeLike = number | readonly number[];
export const toShape = (where: string, s: ShapeLike): number[] => {
  const shape = typeof s === 'number' ? [s] : [...s];
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`[${where}] invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
  return shape;
};

/** An array of `shape` filled with `vals` (broadcast). */
export function full(shape: ShapeLike, vals: ArrayLike, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  const s = toShape('full', shape);
  const stream = toStream(opts?.stream);
  const dt = dtype ? toDtype(dtype, 'full') : isWeakScalar(vals) ? (typeof vals === 'boolean' ? bool : Number.isInteger(vals) ? int32 : float32) : asArray(vals).dtype;
  const v = isWeakScalar(vals) ? scalar(vals, dt, stream) : astype(asArray(vals, stream), dt);
  return broadcastTo(v, s, { stream });
}

export function zeros(shape: ShapeLike, dtype: DTypeLike = float32, opts?: OpOptions): Array { return full(shape, 0, dtype, opts); }
export function ones(shape: ShapeLike, dtype: DTypeLike = float32, opts?: OpOptions): Array { return full(shape, 1, dtype, opts); }

export function fullLike(x: ArrayLike, vals: ArrayLike, dtype?: DTypeLike | null, opts?: OpOptions): Array {
  const a = asArray(x);
  return full(a.shape, vals, dtype ?? a.dtype, { stream: opts?.stream ?? a.stream });
}
export function zerosLike(x: ArrayLike, opts?: OpOptions): Array { return fullLike(x, 0, null, opts); }
export function onesLike(x: ArrayLike, opts?: OpOptions): Array { return fullLike(x, 1, null, opts); }
export type { DType };
