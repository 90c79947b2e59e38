// Matrix products: the matmul primitive (batched, batch dims broadcast) and the ops built
// on it: addmm, outer, inner, tensordot.
import { Array, ArrayLike, asArray } from '../array.js';
import { promoteTypes } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind1 } from '../primitive.js';
import { fmtShape, normAxis, resultType, promoteArgs } from './util.js';
import { reshape, transpose, moveaxis, swapaxes } from './shape.js';
import { astype } from './astype.js';
import { sumTo } from './reduce.js';
import { add, multiply } from './binary.js';

/** Swaps the last two axes (the matrix transpose of a batch). */
export const mT = (x: Array): Array => swapaxes(x, -1, -2);

/** Which operands are stored transposed: a as (..., K, M), b as (..., N, K). */
export interface MatmulParams { transposeA?: boolean; transposeB?: boolean }

/**
 * Inputs: a (..., M, K) and b (..., K, N) of one dtype and rank >= 2, batch dims broadcast;
 * either may be stored transposed (params), which GEMMs read in place (x @ w.T in a Linear
 * layer reads w as it is, with no copy).
 */
export const Matmul = definePrimitive<MatmulParams>({
  name: 'matmul',
  vjp: ([g], { inputs: [a, b], params: { transposeA: tA, transposeB: tB } }) => {
    // Logical operands A (M, K) and B (K, N) and their transposes, without double transposes.
    const A = tA ? mT(a) : a, AT = tA ? a : mT(a), B = tB ? mT(b) : b, BT = tB ? b : mT(b);
    return [
      sumTo(tA ? matmul(B, mT(g)) : matmul(g, BT), a.shape), // (g Bᵀ)ᵀ = B gᵀ when a is stored transposed
      sumTo(tB ? matmul(mT(g), A) : matmul(AT, g), b.shape),
    ];
  },
  jvp: ([ta, tb], { inputs: [a, b], params: { transposeA: tA, transposeB: tB } }) => {
    const A = tA ? mT(a) : a, B = tB ? mT(b) : b;
    const dA = ta && (tA ? mT(ta) : ta), dB = tb && (tB ? mT(tb) : tb);
    if (dA && dB) return [add(matmul(dA, B), matmul(A, dB))];
    return [dA ? matmul(dA, B) : matmul(A, dB!)];
  },
  // Batch axes go first; an unbatched operand broadcasts against them as a batch dim of 1.
  vmap: ([a, b], [axA, axB], { transposeA: tA, transposeB: tB }) => {
    const front = (x: Array, ax: number | null, t: boolean | undefined) => {
      const y = ax === null ? x : moveaxis(x, ax, 0);
      return t ? mT(y) : y;
    };
    return [[matmul(front(a, axA, tA), front(b, axB, tB))], [0]];
  },
});

/** x's source when x is a pending swap of its last two axes (so a GEMM can read the source transposed), else null. */
function transposedSource(x: Array): Array | null {
  const node = x._node;
  if (!node || node.prim.name !== 'transpose' || x.ndim < 2) return null;
  const axes = (node.params as { axes: number[] }).axes, n = axes.length;
  return axes.every((p, i) => (i < n - 2 ? p === i : p === (i === n - 1 ? n - 2 : n - 1))) ? node.inputs[0] : null;
}

/**
 * The matrix product with NumPy's rules: 1-D operands are promoted to a row (a) or a
 * column (b) and that axis is dropped from the result; leading batch dims broadcast.
 * Integer and bool products are allowed (wrapping like NumPy).
 */
export function matmul(a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  if (x.ndim === 0 || y.ndim === 0)
    throw new Error(`[matmul] inputs must have at least one dimension, got shapes ${fmtShape(x.shape)} and ${fmtShape(y.shape)}`);
  const stream = opts?.stream ? toStream(opts.stream) : x.stream;
  const xs = x.ndim === 1 ? [1, x.shape[0]] : [...x.shape];
  const ys = y.ndim === 1 ? [y.shape[0], 1] : [...y.shape];
  const K = xs[xs.length - 1];
  if (K !== ys[ys.length - 2]) {
    const what = y.ndim === 1 ? 'the length of b' : 'second-to-last dim of b';
    throw new Error(`[matmul] last dim of a ${fmtShape(x.shape)} must equal ${what} ${fmtShape(y.shape)}`);
  }
  const nd = Math.max(xs.length, ys.length);
  const pad = (s: number[]) => [...new globalThis.Array(nd - s.length).fill(1), ...s];
  const xp = pad(xs), yp = pad(ys);
  const batch = xp.slice(0, -2).map((d, i) => {
    const e = yp[i];
    if (d !== e && d !== 1 && e !== 1)
      throw new Error(`[matmul] batch dims of a ${fmtShape(x.shape)} and b ${fmtShape(y.shape)} cannot be broadcast together`);
    return d === 1 ? e : d;
  });
  const dtype = promoteTypes(x.dtype, y.dtype);
  // Float GEMMs take transposed operands in place (the integer kernels read them row-major).
  const srcA = dtype.isFloat && x.dtype === dtype ? transposedSource(x) : null;
  const srcB = dtype.isFloat && y.dtype === dtype ? transposedSource(y) : null;
  const lead = (s: readonly number[]) => [...new globalThis.Array(nd - s.length).fill(1), ...s];
  const xa = srcA ? reshape(srcA, lead(srcA.shape)) : reshape(astype(x, dtype), xp);
  const yb = srcB ? reshape(srcB, lead(srcB.shape)) : reshape(astype(y, dtype), yp);
  const params: MatmulParams = {};
  if (srcA) params.transposeA = true;
  if (srcB) params.transposeB = true;
  const M = xp[nd - 2], N = yp[nd - 1];
  const out = bind1(Matmul, [xa, yb], params, { shape: [...batch, M, N], dtype }, stream);
  if (x.ndim >= 2 && y.ndim >= 2) return out;
  const shape = [...batch];
  if (x.ndim >= 2) shape.push(M);
  if (y.ndim >= 2) shape.push(N);
  return reshape(out, shape);
}

/** alpha (a @ b) + beta c, with c broadcast to the product's shape. */
export function addmm(c: ArrayLike, a: ArrayLike, b: ArrayLike, alpha = 1, beta = 1, opts?: OpOptions): Array {
  const cc = asArray(c);
  const stream = opts?.stream ? toStream(opts.stream) : cc.stream;
  const [x, y, z] = promoteArgs([a, b, cc], stream, resultType(a, b, cc));
  let prod = matmul(x, y, { stream });
  if (alpha !== 1) prod = multiply(prod, alpha, { stream });
  return add(prod, beta === 1 ? z : multiply(z, beta, { stream }), { stream });
}

/** The outer product of two arrays, flattened to vectors first (as NumPy). */
export function outer(a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  return matmul(reshape(x, [x.size, 1]), reshape(y, [1, y.size]), opts);
}

/** Sum product over the last axes of a and b (0-d operands multiply). */
export function inner(a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  if (x.ndim === 0 || y.ndim === 0) return multiply(x, y, opts);
  if (x.shape[x.ndim - 1] !== y.shape[y.ndim - 1])
    throw new Error(`[inner] last dims of a ${fmtShape(x.shape)} and b ${fmtShape(y.shape)} must match`);
  return tensordot(x, y, [[-1], [-1]], opts);
}

/**
 * Sums the products over `axes`: a count n (the last n of a with the first n of b), or
 * two lists of axes [axesA, axesB] paired in order.
 */
export function tensordot(a: ArrayLike, b: ArrayLike, axes: number | [number | number[], number | number[]] = 2, opts?: OpOptions): Array {
  const x = asArray(a), y = asArray(b);
  let ax: number[], bx: number[];
  if (typeof axes === 'number') {
    if (!Number.isInteger(axes) || axes < 0 || axes > x.ndim || axes > y.ndim)
      throw new Error(`[tensordot] axes ${axes} must be a count between 0 and the ranks of a ${fmtShape(x.shape)} and b ${fmtShape(y.shape)}`);
    ax = [...globalThis.Array(axes).keys()].map((i) => x.ndim - axes + i);
    bx = [...globalThis.Array(axes).keys()];
  } else {
    const list = (v: number | number[]) => (typeof v === 'number' ? [v] : v);
    ax = list(axes[0]).map((v) => normAxis('tensordot', v, x.ndim));
    bx = list(axes[1]).map((v) => normAxis('tensordot', v, y.ndim));
    if (ax.length !== bx.length) throw new Error(`[tensordot] got ${ax.length} axes for a and ${bx.length} for b; they must pair up`);
    if (new Set(ax).size !== ax.length || new Set(bx).size !== bx.length) throw new Error('[tensordot] repeated axis');
  }
  ax.forEach((p, i) => {
    if (x.shape[p] !== y.shape[bx[i]])
      throw new Error(`[tensordot] axis ${p} of a ${fmtShape(x.shape)} and axis ${bx[i]} of b ${fmtShape(y.shape)} have different sizes`);
  });
  const freeA = [...globalThis.Array(x.ndim).keys()].filter((i) => !ax.includes(i));
  const freeB = [...globalThis.Array(y.ndim).keys()].filter((i) => !bx.includes(i));
  const size = (s: readonly number[], idx: number[]) => idx.reduce((p, i) => p * s[i], 1);
  const k = size(x.shape, ax);
  const xm = reshape(transpose(x, [...freeA, ...ax]), [size(x.shape, freeA), k]);
  const ym = reshape(transpose(y, [...bx, ...freeB]), [k, size(y.shape, freeB)]);
  return reshape(matmul(xm, ym, opts), [...freeA.map((i) => x.shape[i]), ...freeB.map((i) => y.shape[i])]);
}
