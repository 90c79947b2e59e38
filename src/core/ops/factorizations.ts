// Factorizations and solvers for mx.linalg (CPU, float32 and float64, batched over leading
// dims): inv, solve, solveTriangular, cholesky, qr, svd, eigh, and ops composed of them.
//
// Kernels that read one triangle (cholesky, eigh, solveTriangular) are differentiated as
// exactly that: the gradient lands on the triangle read, so finite differences of any
// single entry agree. Rules for qr/svd/eigh use the standard formulas (Murray 2016;
// Townsend 2016; Seeger et al. 2017); they assume distinct eigen/singular values.
import { Array, ArrayLike, asArray, array } from '../array.js';
import { DType, promoteTypes } from '../dtype.js';
import { OpOptions, toStream, Stream } from '../device.js';
import { definePrimitive, bind, bind1 } from '../primitive.js';
import { fmtShape, broadcastShapes } from './util.js';
import { reshape, moveaxis, broadcastTo, expandDims, squeeze } from './shape.js';
import { astype } from './astype.js';
import { add, subtract, multiply, divide, where, greater } from './binary.js';
import { negative, reciprocal, square } from './unary.js';
import { sum } from './reduce.js';
import { matmul, mT } from './matmul.js';

// ---------------------------------------------------------------- shared helpers

function checkMatrix(where: string, a: Array, square = true): void {
  if (a.dtype.name !== 'float32' && a.dtype.name !== 'float64')
    throw new TypeError(`[${where}] expected a float32 or float64 array, got ${a.dtype.name}`);
  if (a.ndim < 2) throw new Error(`[${where}] expected an array of matrices (..., M, N), got shape ${fmtShape(a.shape)}`);
  if (square && a.shape[a.ndim - 1] !== a.shape[a.ndim - 2])
    throw new Error(`[${where}] expected square matrices (..., N, N), got shape ${fmtShape(a.shape)}`);
}

const rows = (a: Array) => a.shape[a.ndim - 2];
const cols = (a: Array) => a.shape[a.ndim - 1];

/** A constant rows x cols matrix with entries f(i, j), in `like`'s dtype and stream. */
function constant(r: number, c: number, f: (i: number, j: number) => number, like: Array | { dtype: DType; stream: Stream }): Array {
  const data = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[i * c + j] = f(i, j);
  return reshape(array(data, like.dtype, { stream: like.stream }), [r, c]);
}
const eyeOf = (n: number, like: Array, m = n) => constant(n, m, (i, j) => +(i === j), like);
/** Selects columns k..n-1 of an n-column matrix (x @ rest(n, k) = x[..., k:]). */
const rest = (n: number, k: number, like: Array) => constant(n, n - k, (i, j) => +(i === j + k), like);
/** Entries on or below (k = 0) or strictly below (k = -1) the diagonal, else 0. */
const lowerOf = (x: Array, k = 0) => multiply(x, constant(rows(x), cols(x), (i, j) => +(j - i <= k), x));
const upperOf = (x: Array, k = 0) => multiply(x, constant(rows(x), cols(x), (i, j) => +(j - i >= k), x));
const diagOf = (x: Array) => multiply(x, eyeOf(rows(x), x, cols(x)));
/** Entries of x on a diagonal matrix: (..., n) -> (..., n, n). */
const diagEmbed = (v: Array) => multiply(expandDims(v, -1), eyeOf(v.shape[v.ndim - 1], v));
/** The diagonal: (..., n, n) -> (..., n). */
const diagonalOf = (x: Array) => sum(diagOf(x), -1);
/**
 * Gradient with respect to the lower triangle read by a kernel, from `s`, the gradient
 * with respect to the symmetric matrix it stands for: tril(S + S^T) - diag(S).
 */
const lowerFromSymmetric = (s: Array) => add(lowerOf(add(s, mT(s)), -1), diagOf(s));
/** The symmetric matrix a kernel reading the lower triangle sees. */
const symmetricFromLower = (x: Array) => add(lowerOf(x), mT(lowerOf(x, -1)));

const batchFirst = (x: Array, ax: number | null) => (ax === null ? x : moveaxis(x, ax, 0));

/** vmap for one-input primitives batched over leading dims. */
const vmapUnary = (f: (x: Array) => Array[]) => ([x]: Array[], [ax]: (number | null)[]): [Array[], number[]] => {
  const outs = f(batchFirst(x, ax));
  return [outs, outs.map(() => 0)];
};

// ---------------------------------------------------------------- inv

export const Inv = definePrimitive<Record<string, never>>({
  name: 'inv',
  vjp: ([g], { outputs: [y] }) => [negative(matmul(mT(y), matmul(g, mT(y))))],
  jvp: ([t], { outputs: [y] }) => [negative(matmul(y, matmul(t!, y)))],
  vmap: vmapUnary((x) => [inv(x)]),
});

/** The inverse of each square matrix. */
export function inv(a: ArrayLike, opts?: OpOptions): Array {
  const x = asArray(a);
  checkMatrix('inv', x);
  return bind1(Inv, [x], {}, { shape: x.shape, dtype: x.dtype }, opts?.stream ? toStream(opts.stream) : x.stream);
}

// ---------------------------------------------------------------- solve

/** a (..., n, n) and b (..., n, k) with batch dims broadcast to one shape. */
function broadcastPair(where: string, a: Array, b: Array): [Array, Array] {
  const batch = broadcastShapes(where, a.shape.slice(0, -2), b.shape.slice(0, -2));
  return [broadcastTo(a, [...batch, rows(a), cols(a)]), broadcastTo(b, [...batch, rows(b), cols(b)])];
}

export const Solve = definePrimitive<Record<string, never>>({
  name: 'solve',
  vjp: ([g], { inputs: [a], outputs: [x] }) => {
    const gb = solveMatrices(mT(a), g);
    return [negative(matmul(gb, mT(x))), gb];
  },
  jvp: ([ta, tb], { inputs: [a], outputs: [x] }) => {
    const rhs = ta ? (tb ? subtract(tb, matmul(ta, x)) : negative(matmul(ta, x))) : tb!;
    return [solveMatrices(a, rhs)];
  },
  vmap: ([a, b], [axA, axB]) => [[solveMatrices(batchFirst(a, axA), batchFirst(b, axB))], [0]],
});

function solveMatrices(a: Array, b: Array, stream?: Stream): Array {
  const [x, y] = broadcastPair('solve', a, b);
  return bind1(Solve, [x, y], {}, { shape: y.shape, dtype: y.dtype }, stream ?? y.stream);
}

/** Promotes a and b to one float dtype and checks a is square. */
function systemArgs(where: string, a: ArrayLike, b: ArrayLike): [Array, Array] {
  const x0 = asArray(a), y0 = asArray(b);
  const dt = promoteTypes(x0.dtype, y0.dtype);
  const x = astype(x0, dt), y = astype(y0, dt);
  checkMatrix(where, x);
  if (y.ndim === 0) throw new Error(`[${where}] b must have at least one dimension, got shape ${fmtShape(y.shape)}`);
  const n = rows(x), bn = y.ndim === 1 ? y.shape[0] : rows(y);
  if (bn !== n) throw new Error(`[${where}] a ${fmtShape(x.shape)} and b ${fmtShape(y.shape)} disagree: b must have ${n} rows`);
  return [x, y];
}

/** x with a x = b; b is a vector (n,) or matrices (..., n, k) (NumPy 2's rule). */
export function solve(a: ArrayLike, b: ArrayLike, opts?: OpOptions): Array {
  const [x, y] = systemArgs('solve', a, b);
  const stream = opts?.stream ? toStream(opts.stream) : x.stream;
  if (y.ndim === 1) return squeeze(solveMatrices(x, expandDims(y, -1), stream), -1);
  return solveMatrices(x, y, stream);
}

// ---------------------------------------------------------------- solveTriangular

export interface TriangularParams { upper: boolean }

export const SolveTriangular = definePrimitive<TriangularParams>({
  name: 'solveTriangular',
  vjp: ([g], { inputs: [a], outputs: [x], params: { upper } }) => {
    const gb = triangularMatrices(mT(a), g, !upper);
    const ga = negative(matmul(gb, mT(x)));
    return [upper ? upperOf(ga) : lowerOf(ga), gb];
  },
  jvp: ([ta, tb], { inputs: [a], outputs: [x], params: { upper } }) => {
    const dA = ta && (upper ? upperOf(ta) : lowerOf(ta));
    const rhs = dA ? (tb ? subtract(tb, matmul(dA, x)) : negative(matmul(dA, x))) : tb!;
    return [triangularMatrices(a, rhs, upper)];
  },
  vmap: ([a, b], [axA, axB], { upper }) => [[triangularMatrices(batchFirst(a, axA), batchFirst(b, axB), upper)], [0]],
});

function triangularMatrices(a: Array, b: Array, upper: boolean, stream?: Stream): Array {
  const [x, y] = broadcastPair('solveTriangular', a, b);
  return bind1(SolveTriangular, [x, y], { upper }, { shape: y.shape, dtype: y.dtype }, stream ?? y.stream);
}

/** x with a x = b for triangular a (only its `upper` or lower triangle is read). */
export function solveTriangular(a: ArrayLike, b: ArrayLike, upper = false, opts?: OpOptions): Array {
  const [x, y] = systemArgs('solveTriangular', a, b);
  const stream = opts?.stream ? toStream(opts.stream) : x.stream;
  if (y.ndim === 1) return squeeze(triangularMatrices(x, expandDims(y, -1), upper, stream), -1);
  return triangularMatrices(x, y, upper, stream);
}

/** The inverse of a triangular matrix. */
export function triInv(a: ArrayLike, upper = false, opts?: OpOptions): Array {
  const x = asArray(a);
  checkMatrix('triInv', x);
  return solveTriangular(x, broadcastTo(eyeOf(rows(x), x), x.shape), upper, opts);
}

// ---------------------------------------------------------------- cholesky

/** Φ: the lower triangle with the diagonal halved. */
const phi = (x: Array) => multiply(x, constant(rows(x), cols(x), (i, j) => (j < i ? 1 : j === i ? 0.5 : 0), x));

export const Cholesky = definePrimitive<Record<string, never>>({
  name: 'cholesky',
  vjp: ([g], { outputs: [l] }) => {
    // S = L^-T Φ(L^T Lbar) L^-1 (Murray 2016), then onto the lower triangle read.
    const z = triangularMatrices(mT(l), phi(matmul(mT(l), g)), true);
    const s = mT(triangularMatrices(mT(l), mT(z), true));
    return [lowerFromSymmetric(s)];
  },
  jvp: ([t], { outputs: [l] }) => {
    // dL = L Φ(L^-1 dA L^-T), dA the symmetric perturbation the lower triangle stands for.
    const w = triangularMatrices(l, symmetricFromLower(t!), false);
    return [matmul(l, phi(mT(triangularMatrices(l, mT(w), false))))];
  },
  vmap: vmapUnary((x) => [choleskyLower(x)]),
});

function choleskyLower(x: Array, stream?: Stream): Array {
  return bind1(Cholesky, [x], {}, { shape: x.shape, dtype: x.dtype }, stream ?? x.stream);
}

/** The Cholesky factor L (a = L L^T) from the lower triangle, or U (a = U^T U) from the upper one. */
export function cholesky(a: ArrayLike, upper = false, opts?: OpOptions): Array {
  const x = asArray(a);
  checkMatrix('cholesky', x);
  const stream = opts?.stream ? toStream(opts.stream) : x.stream;
  return upper ? mT(choleskyLower(mT(x), stream)) : choleskyLower(x, stream);
}

/** The inverse of a = L L^T (or U^T U) from its Cholesky factor. */
export function choleskyInv(l: ArrayLike, upper = false, opts?: OpOptions): Array {
  const x = asArray(l);
  checkMatrix('choleskyInv', x);
  const li = triInv(x, upper, opts);
  return upper ? matmul(li, mT(li), opts) : matmul(mT(li), li, opts);
}

// ---------------------------------------------------------------- qr

export const Qr = definePrimitive<Record<string, never>>({
  name: 'qr',
  vjp: ([gq, gr], { inputs: [a], outputs: [q, r] }) => [qrVjp(a, q, r, gq, gr)],
  jvp: ([t], { inputs: [a], outputs: [q, r] }) => {
    const m = rows(a), n = cols(a);
    if (m >= n) return qrSquareJvp(q, r, t!);
    // A = [X | Y]: X = Q Rx as above, and Ry = Q^T Y gives dRy = dQ^T Y + Q^T dY.
    const left = eyeOf(n, a, m), right = rest(n, m, a);
    const [dq, drx] = qrSquareJvp(q, matmul(r, left), matmul(t!, left));
    const dry = add(matmul(mT(dq), matmul(a, right)), matmul(mT(q), matmul(t!, right)));
    return [dq, add(matmul(drx, mT(left)), matmul(dry, mT(right)))];
  },
  vmap: vmapUnary((x) => qrBind(x)),
});

/** Ā for A = QR with m >= n: (Q̄ + Q copyltu(M)) R^-T, M = R R̄^T - Q̄^T Q. Wide A splits as [X | Y]. */
function qrVjp(a: Array, q: Array, r: Array, gq: Array, gr: Array): Array {
  const m = rows(a), n = cols(a);
  if (m >= n) return qrSquareVjp(q, r, gq, gr);
  // A = [X | Y] with X square: X = Q Rx and Ry = Q^T Y, so Ȳ = Q R̄y and Q̄ gains Y R̄y^T.
  const left = eyeOf(n, a, m), right = rest(n, m, a);
  const y = matmul(a, right), gry = matmul(gr, right);
  const gx = qrSquareVjp(q, matmul(r, left), add(gq, matmul(y, mT(gry))), matmul(gr, left));
  return add(matmul(gx, mT(left)), matmul(matmul(q, gry), mT(right)));
}

/** JAX's rule for m >= n: with dX = dA R^-1 and C = Q^T dX, dQ = Q (Ω - C) + dX and dR = (C - Ω) R, Ω = tril(C,-1) - tril(C,-1)^T. */
function qrSquareJvp(q: Array, r: Array, t: Array): [Array, Array] {
  const dx = mT(triangularMatrices(mT(r), mT(t), false));
  const c = matmul(mT(q), dx);
  const low = lowerOf(c, -1);
  const omega = subtract(low, mT(low));
  return [add(matmul(q, subtract(omega, c)), dx), matmul(subtract(c, omega), r)];
}

function qrSquareVjp(q: Array, r: Array, gq: Array, gr: Array): Array {
  const mm = subtract(matmul(r, mT(gr)), matmul(mT(gq), q));
  const copyltu = add(lowerOf(mm), mT(lowerOf(mm, -1)));
  const b = add(gq, matmul(q, copyltu));
  return mT(triangularMatrices(r, mT(b), true));
}

function qrBind(x: Array, stream?: Stream): Array[] {
  const m = rows(x), n = cols(x), k = Math.min(m, n), batch = x.shape.slice(0, -2);
  return bind(Qr, [x], {}, [{ shape: [...batch, m, k], dtype: x.dtype }, { shape: [...batch, k, n], dtype: x.dtype }], stream ?? x.stream);
}

/** The reduced QR factorization: q (..., M, K) with orthonormal columns, r (..., K, N) upper triangular, K = min(M, N). */
export function qr(a: ArrayLike, opts?: OpOptions): [Array, Array] {
  const x = asArray(a);
  checkMatrix('qr', x, false);
  const [q, r] = qrBind(x, opts?.stream ? toStream(opts.stream) : undefined);
  return [q, r];
}

// ---------------------------------------------------------------- svd

export interface SvdParams { computeUV: boolean }

export const Svd = definePrimitive<SvdParams>({
  name: 'svd',
  vjp: (cts, { inputs: [a], outputs, params: { computeUV } }) => {
    if (!computeUV) {
      const [u, , vt] = svdBind(a, true);
      const k = Math.min(rows(a), cols(a));
      return [matmul(multiply(matmul(u, eyeOf(rows(a), a, k)), expandDims(cts[0], -2)), matmul(mT(eyeOf(cols(a), a, k)), vt))];
    }
    return [svdVjp(a, outputs, cts)];
  },
  jvp: ([t], { inputs: [a], outputs, params: { computeUV } }) => {
    if (!computeUV) {
      const [u, , vt] = svdBind(a, true);
      return [svdJvp(a, [u, outputs[0], vt], t!)[1]];
    }
    return svdJvp(a, outputs, t!);
  },
  vmap: ([x], [ax], { computeUV }) => {
    const outs = svdBind(batchFirst(x, ax), computeUV);
    return [outs, outs.map(() => 0)];
  },
});

/** The thin parts of a full SVD: U_k (m x k), V_k (n x k), plus the selectors used to cut them. */
function thin(a: Array, u: Array, vt: Array) {
  const m = rows(a), n = cols(a), k = Math.min(m, n);
  const em = eyeOf(m, a, k), en = eyeOf(n, a, k);
  return { m, n, k, em, en, uk: matmul(u, em), vk: matmul(mT(vt), en) };
}

/**
 * Ā for A = U S V^T (PyTorch's svd_backward, real case). Cotangents of the columns of a
 * full U (or V) beyond min(M, N) only enter through the orthogonality they keep, which
 * matches the tangent chosen for them in svdJvp.
 */
function svdVjp(a: Array, [u, s, vt]: Array[], [gu, gs, gvt]: Array[]): Array {
  const { m, n, k, em, en, uk, vk } = thin(a, u, vt);
  const v = mT(vt), gv = mT(gvt);
  let guk = matmul(gu, em), gvk = matmul(gv, en);
  // Ū_k - U_2 Ū_2^T U_k (and likewise for V): the transpose of the completing columns' tangent.
  if (m > k) { const r = rest(m, k, a); guk = subtract(guk, matmul(matmul(u, r), matmul(mT(matmul(gu, r)), uk))); }
  if (n > k) { const r = rest(n, k, a); gvk = subtract(gvk, matmul(matmul(v, r), matmul(mT(matmul(gv, r)), vk))); }
  const skew = (x: Array) => subtract(x, mT(x));
  const sRow = expandDims(s, -2), sCol = expandDims(s, -1);
  const e = add(subtract(square(sRow), square(sCol)), eyeOf(k, a)); // s_j^2 - s_i^2, 1 on the diagonal
  const j = skew(matmul(mT(uk), guk)), kk = skew(matmul(mT(vk), gvk));
  const inner = add(divide(add(multiply(j, sRow), multiply(sCol, kk)), e), diagEmbed(gs));
  let ga: Array;
  if (m > k) {
    const gus = divide(guk, sRow);
    ga = matmul(add(matmul(uk, inner), subtract(gus, matmul(uk, matmul(mT(uk), gus)))), mT(vk));
  } else if (n > k) {
    const sgv = divide(mT(gvk), sCol);
    ga = matmul(uk, add(matmul(inner, mT(vk)), subtract(sgv, matmul(matmul(sgv, vk), mT(vk)))));
  } else {
    ga = matmul(uk, matmul(inner, mT(vk)));
  }
  return ga;
}

/** Tangents of U, S, V^T: the thin parts by Townsend's formulas, the completing columns by the smallest change keeping U (V) orthogonal. */
function svdJvp(a: Array, [u, s, vt]: Array[], t: Array): Array[] {
  const { m, n, k, em, en, uk, vk } = thin(a, u, vt);
  const dp = matmul(mT(uk), matmul(t, vk));
  const ds = diagonalOf(dp);
  const sRow = expandDims(s, -2), sCol = expandDims(s, -1);
  const offDiag = constant(k, k, (i, j) => +(i !== j), a);
  const f = where(offDiag, reciprocal(subtract(square(sRow), square(sCol))), 0); // 1 / (s_j^2 - s_i^2)
  let duk = matmul(uk, multiply(f, add(multiply(dp, sRow), multiply(sCol, mT(dp)))));
  let dvk = matmul(vk, multiply(f, add(multiply(sCol, dp), multiply(mT(dp), sRow))));
  if (m > k) duk = add(duk, divide(subtract(matmul(t, vk), matmul(uk, matmul(mT(uk), matmul(t, vk)))), sRow));
  if (n > k) dvk = add(dvk, divide(subtract(matmul(mT(t), uk), matmul(vk, matmul(mT(vk), matmul(mT(t), uk)))), sRow));
  const full = (x: Array, dxk: Array, size: number, sel: Array) => {
    if (size === k) return dxk;
    const r = rest(size, k, a), x2 = matmul(x, r);
    const dx2 = negative(matmul(matmul(x, sel), matmul(mT(dxk), x2)));
    return add(matmul(dxk, mT(sel)), matmul(dx2, mT(r)));
  };
  return [full(u, duk, m, em), ds, mT(full(mT(vt), dvk, n, en))];
}

function svdBind(x: Array, computeUV: boolean, stream?: Stream): Array[] {
  const m = rows(x), n = cols(x), batch = x.shape.slice(0, -2);
  const sSpec = { shape: [...batch, Math.min(m, n)], dtype: x.dtype };
  const specs = computeUV ? [{ shape: [...batch, m, m], dtype: x.dtype }, sSpec, { shape: [...batch, n, n], dtype: x.dtype }] : [sSpec];
  return bind(Svd, [x], { computeUV }, specs, stream ?? x.stream);
}

/**
 * The singular value decomposition a = U diag(S) Vt with full U (..., M, M) and
 * Vt (..., N, N), S descending; with computeUV false, only S.
 */
export function svd(a: ArrayLike, computeUV?: true, opts?: OpOptions): [Array, Array, Array];
export function svd(a: ArrayLike, computeUV: false, opts?: OpOptions): Array;
export function svd(a: ArrayLike, computeUV = true, opts?: OpOptions): [Array, Array, Array] | Array {
  const x = asArray(a);
  checkMatrix('svd', x, false);
  const outs = svdBind(x, computeUV, opts?.stream ? toStream(opts.stream) : undefined);
  return computeUV ? [outs[0], outs[1], outs[2]] : outs[0];
}

/** Pseudo-inverse through the SVD, dropping singular values below max(M, N) * eps * max(S). */
export function pinv(a: ArrayLike, opts?: OpOptions): Array {
  const x = asArray(a);
  checkMatrix('pinv', x, false);
  const [u, s, vt] = svd(x, true, opts);
  const { k, em, en } = thin(x, u, vt);
  const eps = x.dtype.name === 'float32' ? 1.1920929e-7 : 2.220446049250313e-16;
  const largest = sum(multiply(s, reshape(constant(1, k, (_i, j) => +(j === 0), x), [k])), -1, true); // S is descending
  const cutoff = multiply(largest, Math.max(rows(x), cols(x)) * eps);
  const sInv = where(greater(s, cutoff), reciprocal(s), 0);
  return matmul(multiply(matmul(mT(vt), en), expandDims(sInv, -2)), mT(matmul(u, em)), opts);
}

// ---------------------------------------------------------------- eigh

export const Eigh = definePrimitive<Record<string, never>>({
  name: 'eigh',
  vjp: ([gw, gv], { outputs: [w, v] }) => {
    // S = V (diag(w̄) + F ∘ V^T V̄) V^T with F_ij = 1 / (w_j - w_i) off the diagonal.
    const s = matmul(v, matmul(add(diagEmbed(gw), multiply(eigGaps(w), matmul(mT(v), gv))), mT(v)));
    return [lowerFromSymmetric(s)];
  },
  jvp: ([t], { outputs: [w, v] }) => {
    const q = matmul(mT(v), matmul(symmetricFromLower(t!), v));
    return [diagonalOf(q), matmul(v, multiply(eigGaps(w), q))];
  },
  vmap: vmapUnary((x) => eighBind(x)),
});

/** F_ij = 1 / (w_j - w_i) for i != j, 0 on the diagonal. */
function eigGaps(w: Array): Array {
  const n = w.shape[w.ndim - 1];
  const offDiag = constant(n, n, (i, j) => +(i !== j), w);
  return where(offDiag, reciprocal(subtract(expandDims(w, -2), expandDims(w, -1))), 0);
}

function eighBind(x: Array, stream?: Stream): Array[] {
  const batch = x.shape.slice(0, -2), n = rows(x);
  return bind(Eigh, [x], {}, [{ shape: [...batch, n], dtype: x.dtype }, { shape: x.shape, dtype: x.dtype }], stream ?? x.stream);
}

/** Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices, read from the UPLO triangle. */
export function eigh(a: ArrayLike, UPLO: 'L' | 'U' = 'L', opts?: OpOptions): [Array, Array] {
  const x = asArray(a);
  checkMatrix('eigh', x);
  if (UPLO !== 'L' && UPLO !== 'U') throw new Error(`[eigh] UPLO must be 'L' or 'U', got '${String(UPLO)}'`);
  const [w, v] = eighBind(UPLO === 'U' ? mT(x) : x, opts?.stream ? toStream(opts.stream) : undefined);
  return [w, v];
}

/** Eigenvalues of symmetric matrices, ascending. */
export function eigvalsh(a: ArrayLike, UPLO: 'L' | 'U' = 'L', opts?: OpOptions): Array {
  return eigh(a, UPLO, opts)[0];
}
