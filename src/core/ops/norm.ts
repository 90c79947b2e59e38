// Vector and matrix norms (MLX's linalg.norm, plus 'nuc' and the spectral norms through
// the SVD). Results are floating point: integer inputs are computed in float32.
import { Array, ArrayLike, asArray } from '../array.js';
import { floatOf } from '../dtype.js';
import { OpOptions } from '../device.js';
import { fmtShape, normAxis } from './util.js';
import { astype } from './astype.js';
import { abs, sqrt, square } from './unary.js';
import { notEqual, power } from './binary.js';
import { sum, max, min } from './reduce.js';
import { moveaxis, expandDims, squeeze } from './shape.js';
import { svd } from './factorizations.js';

export type NormOrd = number | 'fro' | 'f' | 'nuc';

const l2 = (x: Array, axes: number[], keepdims: boolean, opts?: OpOptions) => sqrt(sum(square(abs(x)), axes, keepdims, opts), opts);

function vectorNorm(x: Array, ord: number, axis: number, keepdims: boolean, opts?: OpOptions): Array {
  if (ord === 2) return l2(x, [axis], keepdims, opts);
  if (ord === 0) return astype(sum(notEqual(x, 0), axis, keepdims, opts), x.dtype);
  if (ord === 1) return sum(abs(x), axis, keepdims, opts);
  if (ord === Infinity) return max(abs(x), axis, keepdims, opts);
  if (ord === -Infinity) return min(abs(x), axis, keepdims, opts);
  return power(sum(power(abs(x), ord), axis, keepdims, opts), 1 / ord, opts);
}

function matrixNorm(x: Array, ord: number | string, [r, c]: [number, number], keepdims: boolean, opts?: OpOptions): Array {
  const squeezeBack = (y: Array) => (keepdims ? y : squeeze(y, [r, c]));
  if (ord === 'fro' || ord === 'f') return l2(x, [r, c], keepdims, opts);
  if (ord === 1 || ord === -1) return squeezeBack((ord === 1 ? max : min)(sum(abs(x), r, true, opts), c, true, opts));
  if (ord === Infinity || ord === -Infinity) return squeezeBack((ord > 0 ? max : min)(sum(abs(x), c, true, opts), r, true, opts));
  if (ord === 'nuc' || ord === 2 || ord === -2) {
    // Singular values of the (r, c) matrices, moved to the last two axes.
    const lo = Math.min(r, c), hi = Math.max(r, c);
    let m = moveaxis(moveaxis(x, hi, -1), lo, -2);
    if (r > c) m = moveaxis(m, -1, -2);
    const s = svd(m, false, opts);
    const y = ord === 'nuc' ? sum(s, -1, false, opts) : (ord === 2 ? max : min)(s, -1, false, opts);
    return keepdims ? expandDims(y, [lo, hi]) : y;
  }
  throw new Error(`[norm] invalid ord ${typeof ord === 'string' ? `'${ord}'` : ord} for a matrix norm; expected 'fro', 'nuc', 1, -1, 2, -2, Infinity or -Infinity`);
}

/**
 * The norm of `a` over `axis`: one axis gives a vector norm, two a matrix norm. With no
 * axis, `ord` null takes the 2-norm of all elements, otherwise `a` must be 1-D or 2-D.
 * Vector ords: any number (0 counts nonzeros, ±Infinity take max/min of |a|); matrix ords:
 * 'fro', 'nuc', ±1, ±2, ±Infinity.
 */
export function norm(a: ArrayLike, ord?: NormOrd | null, axis?: number | readonly number[] | null, keepdims = false, opts?: OpOptions): Array {
  const x0 = asArray(a);
  const x = astype(x0, floatOf(x0.dtype));
  const axes = axis === undefined || axis === null ? null : (typeof axis === 'number' ? [axis] : [...axis]).map((v) => normAxis('norm', v, x.ndim));
  if (axes && new Set(axes).size !== axes.length) throw new Error(`[norm] repeated axis in (${axes.join(',')})`);
  if (ord === undefined || ord === null) {
    if (axes && axes.length > 2) throw new Error(`[norm] expected 1 or 2 axes, got ${axes.length}`);
    return l2(x, axes ?? [...globalThis.Array(x.ndim).keys()], keepdims, opts);
  }
  if (!axes && x.ndim !== 1 && x.ndim !== 2)
    throw new Error(`[norm] ord ${String(ord)} needs a 1-D or 2-D array or explicit axes, got shape ${fmtShape(x.shape)}`);
  const ax = axes ?? [...globalThis.Array(x.ndim).keys()];
  if (ax.length === 1) {
    if (typeof ord === 'string') throw new Error(`[norm] ord '${ord}' is a matrix norm and needs 2 axes, got 1`);
    return vectorNorm(x, ord, ax[0], keepdims, opts);
  }
  if (ax.length === 2) return matrixNorm(x, ord, [ax[0], ax[1]], keepdims, opts);
  throw new Error(`[norm] expected 1 or 2 axes, got ${ax.length}`);
}
