// Affine quantization in MLX's layout: quantize, dequantize, quantizedMatmul.
//
// The last axis of a weight is cut into groups of `groupSize` values; each group keeps a
// scale and a bias (in the weight's float dtype) and its values become integers q in
// [0, 2^bits - 1], with w ~ scale * q + bias. A row's integers are one little-endian bit
// stream: value j occupies bits [j*bits, (j+1)*bits) of the row, read as uint32 words, so
// 3, 5 and 6-bit values may straddle two words (exactly MLX's byte packing). A row of K
// values takes K * bits / 32 words.
import { Array, ArrayLike, asArray } from '../array.js';
import { DType, uint32, promoteTypes, float32 } from '../dtype.js';
import { OpOptions, toStream } from '../device.js';
import { definePrimitive, bind, bind1 } from '../primitive.js';
import { fmtShape } from './util.js';
import { reshape, moveaxis, expandDims, broadcastTo, squeeze, swapaxes } from './shape.js';
import { astype } from './astype.js';
import { add, multiply } from './binary.js';
import { sum, sumTo } from './reduce.js';
import { zerosLike, onesLike } from './creation.js';
import { matmul } from './matmul.js';

export interface QuantParams { groupSize: number; bits: number }
export interface QmmParams extends QuantParams { transpose: boolean }
export type QuantizationMode = 'affine';

const GROUP_SIZES = [32, 64, 128];
const BITS = [2, 3, 4, 5, 6, 8];

function checkScheme(where: string, groupSize: number, bits: number, mode: string): void {
  if (mode !== 'affine') throw new Error(`[${where}] only the 'affine' mode is supported, got '${String(mode)}'`);
  if (!GROUP_SIZES.includes(groupSize)) throw new Error(`[${where}] groupSize must be one of ${GROUP_SIZES.join(', ')}, got ${groupSize}`);
  if (!BITS.includes(bits)) throw new Error(`[${where}] bits must be one of ${BITS.join(', ')}, got ${bits}`);
}

const streamFor = (x: Array, opts?: OpOptions) => (opts?.stream ? toStream(opts.stream) : x.stream);

// ---------------------------------------------------------------- quantize

export const Quantize = definePrimitive<QuantParams>({
  name: 'quantize',
  nonDifferentiable: 'quantize rounds to integers',
  // Rows are quantized independently along the last axis, so the batch axis can go first.
  vmap: ([w], [ax], p) => [bindQuantize(moveaxis(w, ax!, 0), p), [0, 0, 0]],
});

function bindQuantize(w: Array, p: QuantParams, stream = w.stream): Array[] {
  const K = w.shape[w.ndim - 1], lead = w.shape.slice(0, -1);
  return bind(Quantize, [w], p, [
    { shape: [...lead, (K * p.bits) / 32], dtype: uint32 },
    { shape: [...lead, K / p.groupSize], dtype: w.dtype },
    { shape: [...lead, K / p.groupSize], dtype: w.dtype },
  ], stream);
}

/**
 * Quantizes the last axis of `w` (at least 2-D, floating point) in groups of `groupSize`
 * with `bits` bits: returns [wq (uint32, last dim K * bits / 32), scales, biases (last dim
 * K / groupSize, w's dtype)]. As MLX: per group, the endpoint of larger magnitude is kept
 * exactly (so a group's zero-crossing rounds well) and the step is (max - min) / (2^bits - 1).
 */
export function quantize(w: ArrayLike, groupSize = 64, bits = 4, mode: QuantizationMode = 'affine', opts?: OpOptions): [Array, Array, Array] {
  const x = asArray(w);
  checkScheme('quantize', groupSize, bits, mode);
  if (!x.dtype.isFloat) throw new TypeError(`[quantize] expected a floating-point array, got ${x.dtype.name}`);
  if (x.ndim < 2) throw new Error(`[quantize] the array to quantize must have at least 2 dimensions, got shape ${fmtShape(x.shape)}`);
  const K = x.shape[x.ndim - 1];
  if (K % groupSize !== 0)
    throw new Error(`[quantize] the last dimension ${K} of ${fmtShape(x.shape)} must be divisible by the group size ${groupSize}`);
  const [wq, scales, biases] = bindQuantize(x, { groupSize, bits }, streamFor(x, opts));
  return [wq, scales, biases];
}

// ---------------------------------------------------------------- dequantize

export const Dequantize = definePrimitive<QuantParams>({
  name: 'dequantize',
  // w = s * q + b: d/ds is q summed over nothing (per element) then reduced per group.
  vjp: ([g], { inputs: [wq, s], params: p }) => {
    const q = bindDequantize(wq, onesLike(s), zerosLike(s), p);
    return [null, groupSum(multiply(g, q), p.groupSize), groupSum(g, p.groupSize)];
  },
  // Linear in (scales, biases) jointly.
  jvp: ([, ts, tb], { inputs: [wq, s], params: p }) => [bindDequantize(wq, ts ?? zerosLike(s), tb ?? zerosLike(s), p)],
  vmap: (ins, axes, p) => {
    const [wq, s, b] = batchShared(ins, axes);
    return [[bindDequantize(wq, s, b, p)], [0]];
  },
});

/** Sums each group of `groupSize` along the last axis. */
function groupSum(x: Array, groupSize: number): Array {
  const K = x.shape[x.ndim - 1];
  return sum(reshape(x, [...x.shape.slice(0, -1), K / groupSize, groupSize]), -1);
}

/**
 * For vmap rules of ops whose inputs must share their leading shape: batch axes to the
 * front, unbatched inputs broadcast along the batch.
 */
function batchShared(xs: Array[], axes: (number | null)[]): Array[] {
  const k = axes.findIndex((a) => a !== null);
  const B = xs[k].shape[axes[k]!];
  return xs.map((x, i) => (axes[i] === null ? broadcastTo(expandDims(x, 0), [B, ...x.shape]) : moveaxis(x, axes[i]!, 0)));
}

function bindDequantize(wq: Array, s: Array, b: Array, p: QuantParams): Array {
  const shape = [...s.shape.slice(0, -1), s.shape[s.ndim - 1] * p.groupSize];
  return bind1(Dequantize, [wq, s, b], p, { shape, dtype: s.dtype }, s.stream);
}

/** Checks a packed weight against its scales and biases; returns the unpacked last dim. */
function checkPacked(where: string, wq: Array, s: Array, b: Array, groupSize: number, bits: number): number {
  if (wq.dtype !== uint32) throw new TypeError(`[${where}] the packed weight must be uint32, got ${wq.dtype.name}`);
  if (!s.dtype.isFloat || !b.dtype.isFloat) throw new TypeError(`[${where}] scales and biases must be floating point, got ${s.dtype.name} and ${b.dtype.name}`);
  if (s.shape.length !== b.shape.length || s.shape.some((d, i) => d !== b.shape[i]))
    throw new Error(`[${where}] scales ${fmtShape(s.shape)} and biases ${fmtShape(b.shape)} must have the same shape`);
  if (wq.ndim < 1 || s.ndim !== wq.ndim || wq.shape.slice(0, -1).some((d, i) => d !== s.shape[i]))
    throw new Error(`[${where}] the packed weight ${fmtShape(wq.shape)} and scales ${fmtShape(s.shape)} must agree on all but the last dim`);
  const K = s.shape[s.ndim - 1] * groupSize;
  if (wq.shape[wq.ndim - 1] * 32 !== K * bits)
    throw new Error(`[${where}] the packed weight ${fmtShape(wq.shape)} holds ${(wq.shape[wq.ndim - 1] * 32) / bits} values per row at ${bits} bits, but scales ${fmtShape(s.shape)} with groupSize ${groupSize} describe ${K}`);
  return K;
}

/** Scales and biases in one float dtype. */
function floatPair(s: Array, b: Array): [Array, Array, DType] {
  const dt = promoteTypes(s.dtype, b.dtype);
  return [astype(s, dt), astype(b, dt), dt];
}

/** scales * q + biases: the weight that `quantize` packed (in the scales' dtype). */
export function dequantize(wq: ArrayLike, scales: ArrayLike, biases: ArrayLike, groupSize = 64, bits = 4, mode: QuantizationMode = 'affine', opts?: OpOptions): Array {
  const w = asArray(wq);
  checkScheme('dequantize', groupSize, bits, mode);
  const [s, b] = floatPair(asArray(scales), asArray(biases));
  checkPacked('dequantize', w, s, b, groupSize, bits);
  const stream = streamFor(w, opts);
  const shape = [...s.shape.slice(0, -1), s.shape[s.ndim - 1] * groupSize];
  return bind1(Dequantize, [w, s, b], { groupSize, bits }, { shape, dtype: s.dtype }, stream);
}

// ---------------------------------------------------------------- quantizedMatmul

/**
 * Inputs: x (xb..., M, K) and the packed weight (wb..., rows, words) with scales and
 * biases (wb..., rows, groups), batch ranks equal (batch dims broadcast). With transpose
 * the weight is (N, K) and out = x @ W^T; without it is (K, N) and out = x @ W.
 */
export const QuantizedMatmul = definePrimitive<QmmParams>({
  name: 'quantizedMatmul',
  vjp: ([g], { inputs: [x, wq, s, b], params: p }) => {
    const dx = sumTo(bindQmm(g, wq, s, b, { ...p, transpose: !p.transpose }), x.shape);
    // The dense weight's gradient, laid out as the packed rows, then reduced per group.
    const dw = sumTo(p.transpose ? matmul(swapaxes(g, -1, -2), x) : matmul(swapaxes(x, -1, -2), g), [...s.shape.slice(0, -1), s.shape[s.ndim - 1] * p.groupSize]);
    const q = bindDequantize(wq, onesLike(s), zerosLike(b), p);
    return [dx, null, groupSum(multiply(dw, q), p.groupSize), groupSum(dw, p.groupSize)];
  },
  // Linear in x, and linear in (scales, biases) jointly.
  jvp: ([tx, , ts, tb], { inputs: [x, wq, s, b], outputs: [y], params: p }) => {
    const parts: Array[] = [];
    if (tx) parts.push(bindQmm(tx, wq, s, b, p));
    if (ts || tb) parts.push(bindQmm(x, wq, ts ?? zerosLike(s), tb ?? zerosLike(b), p));
    const t = parts.length === 0 ? zerosLike(y) : parts.length === 1 ? parts[0] : add(parts[0], parts[1]);
    return [broadcastTo(t, y.shape)];
  },
  vmap: vmapQmm,
});

/** Pads axes of size 1 after axis 0 until `x` has `batchRank` dims before its last two. */
function padBatch(x: Array, batchRank: number): Array {
  const have = x.ndim - 2;
  return have >= batchRank ? x : reshape(x, [x.shape[0], ...new globalThis.Array<number>(batchRank - have).fill(1), ...x.shape.slice(1)]);
}

function vmapQmm(ins: Array[], axes: (number | null)[], p: QmmParams): [Array[], number[]] {
  let [x, wq, s, b] = ins;
  const xBatched = axes[0] !== null;
  const wBatched = axes.slice(1).some((a) => a !== null);
  // Per-example ranks: x gets an M axis of 1 if it is a vector (dropped again below).
  const xVector = x.ndim - (xBatched ? 1 : 0) === 1;
  if (xBatched) x = moveaxis(x, axes[0]!, 0);
  if (xVector) x = expandDims(x, xBatched ? 1 : 0);
  if (wBatched) [wq, s, b] = batchShared([wq, s, b], axes.slice(1));
  // Batch ranks (excluding the vmap axis); the vmap axis must not line up with another dim.
  const rx = x.ndim - 2 - (xBatched ? 1 : 0), rw = wq.ndim - 2 - (wBatched ? 1 : 0);
  const R = 1 + Math.max(rx, rw);
  if (xBatched) x = padBatch(x, R);
  if (wBatched) [wq, s, b] = [wq, s, b].map((a) => padBatch(a, R));
  let out = bindQmm(x, wq, s, b, p);
  if (xVector) out = squeeze(out, -2);
  return [[out], [0]];
}

/** Binds the primitive on operands that are already checked and of one float dtype. */
function bindQmm(x: Array, wq: Array, s: Array, b: Array, p: QmmParams): Array {
  const rows = wq.shape[wq.ndim - 2], K = s.shape[s.ndim - 1] * p.groupSize;
  const N = p.transpose ? rows : K;
  // One weight for every row of x: a single (rows of x, K) product.
  if (wq.ndim === 2 && x.ndim !== 2) {
    const flat = reshape(x, [x.shape.slice(0, -1).reduce((m, d) => m * d, 1), x.shape[x.ndim - 1]]);
    const out = bind1(QuantizedMatmul, [flat, wq, s, b], p, { shape: [flat.shape[0], N], dtype: x.dtype }, x.stream);
    return reshape(out, [...x.shape.slice(0, -1), N]);
  }
  const xv = x.ndim === 1 ? reshape(x, [1, x.shape[0]]) : x;
  const xb = xv.shape.slice(0, -2), wb = wq.shape.slice(0, -2);
  const nb = Math.max(xb.length, wb.length);
  const pad = (a: Array, r: number[]) => (r.length === nb ? a : reshape(a, [...new globalThis.Array<number>(nb - r.length).fill(1), ...a.shape]));
  const [x2, w2, s2, b2] = [pad(xv, xb), pad(wq, wb), pad(s, wb), pad(b, wb)];
  const batch = x2.shape.slice(0, -2).map((d, i) => (d === 1 ? w2.shape[i] : d));
  const out = bind1(QuantizedMatmul, [x2, w2, s2, b2], p, { shape: [...batch, xv.shape[xv.ndim - 2], N], dtype: x.dtype }, x.stream);
  if (x.ndim !== 1) return out;
  return reshape(out, [...batch, N]);
}

/**
 * x @ W^T (transpose, the default: W stored as (N, K) like a Linear weight) or x @ W
 * (W stored as (K, N)), where W is the dequantized weight; W is never materialized whole.
 * x is (..., K); the packed weight may have batch dims, which broadcast with x's.
 * Differentiable in x, scales and biases; not in the packed integers.
 */
export function quantizedMatmul(x: ArrayLike, w: ArrayLike, scales: ArrayLike, biases: ArrayLike, transpose = true, groupSize = 64, bits = 4,
  mode: QuantizationMode = 'affine', opts?: OpOptions): Array {
  const a = asArray(x), wq = asArray(w);
  checkScheme('quantizedMatmul', groupSize, bits, mode);
  const s0 = asArray(scales), b0 = asArray(biases);
  if (wq.ndim < 2) throw new Error(`[quantizedMatmul] the packed weight must have at least 2 dimensions, got shape ${fmtShape(wq.shape)}`);
  if (a.ndim < 1) throw new Error('[quantizedMatmul] x must have at least 1 dimension, got a scalar');
  checkPacked('quantizedMatmul', wq, s0, b0, groupSize, bits);
  const dtype = promoteTypes(promoteTypes(a.dtype.isFloat ? a.dtype : float32, s0.dtype), b0.dtype);
  const rows = wq.shape[wq.ndim - 2], cols = s0.shape[s0.ndim - 1] * groupSize;
  const K = transpose ? cols : rows;
  if (a.shape[a.ndim - 1] !== K) {
    const layout = transpose ? `(N, K) = (${rows}, ${cols})` : `(K, N) = (${rows}, ${cols})`;
    throw new Error(`[quantizedMatmul] the last dim of x ${fmtShape(a.shape)} must equal K of the weight, stored ${layout} with transpose=${transpose}`);
  }
  const xb = a.ndim > 2 ? a.shape.slice(0, -2) : [], wb = wq.shape.slice(0, -2);
  const nb = Math.max(xb.length, wb.length);
  const px = [...new globalThis.Array<number>(nb - xb.length).fill(1), ...xb], pw = [...new globalThis.Array<number>(nb - wb.length).fill(1), ...wb];
  if (px.some((d, i) => d !== pw[i] && d !== 1 && pw[i] !== 1))
    throw new Error(`[quantizedMatmul] batch dims of x ${fmtShape(a.shape)} and the weight ${fmtShape(wq.shape)} cannot be broadcast together`);
  const stream = streamFor(a, opts);
  const o = { stream };
  return bindQmm(astype(a, dtype, o), wq, astype(s0, dtype, o), astype(b0, dtype, o), { groupSize, bits, transpose });
}
