// Initializers, as mlx.nn.init: each factory returns a function from an array (only its
// shape is read) to a freshly initialized array. Samples come from mx.random's global
// state in MLX's order, so `mx.random.seed(s)` makes them reproducible.
import * as mx from '../core/index.js';
import type { Array, DTypeLike } from '../core/index.js';

export type Initializer = (a: Array) => Array;
export type FanMode = 'fan_in' | 'fan_out';

const fmt = (s: readonly number[]) => `(${s.join(',')}${s.length === 1 ? ',' : ''})`;

/** An array like `a` filled with `value`. */
export function constant(value: number, dtype: DTypeLike = 'float32'): Initializer {
  return (a) => mx.full(a.shape, value, dtype);
}

/** Samples from N(mean, std^2). */
export function normal(mean = 0.0, std = 1.0, dtype: DTypeLike = 'float32'): Initializer {
  return (a) => mx.random.normal(a.shape, dtype, mean, std);
}

/** Samples from U[low, high). */
export function uniform(low = 0.0, high = 1.0, dtype: DTypeLike = 'float32'): Initializer {
  return (a) => mx.random.uniform(low, high, a.shape, dtype);
}

/** The identity matrix; the array must be square. */
export function identity(dtype: DTypeLike = 'float32'): Initializer {
  return (a) => {
    if (a.ndim !== 2 || a.shape[0] !== a.shape[1]) throw new Error(`[init.identity] expected a square matrix, got shape ${fmt(a.shape)}`);
    return mx.eye(a.shape[0], null, 0, dtype);
  };
}

/**
 * fan_in is the last dim and fan_out the first, both times the receptive field (the dims
 * in between), which fits Linear (out, in) and channels-last Conv (out, kernel..., in).
 */
export function fanInFanOut(where: string, a: Array): [number, number] {
  if (a.ndim < 2) throw new Error(`[${where}] Glorot and He initialization need an array of at least 2 dimensions, got shape ${fmt(a.shape)}`);
  const receptive = a.shape.slice(1, -1).reduce((p, d) => p * d, 1);
  return [a.shape[a.ndim - 1] * receptive, a.shape[0] * receptive];
}

function pickFan(where: string, a: Array, mode: FanMode): number {
  const [fanIn, fanOut] = fanInFanOut(where, a);
  if (mode === 'fan_in') return fanIn;
  if (mode === 'fan_out') return fanOut;
  throw new Error(`[${where}] mode must be 'fan_in' or 'fan_out', got '${String(mode)}'`);
}

/** Glorot (Xavier) normal: std = gain * sqrt(2 / (fan_in + fan_out)). */
export function glorotNormal(dtype: DTypeLike = 'float32'): (a: Array, gain?: number) => Array {
  return (a, gain = 1.0) => {
    const [fanIn, fanOut] = fanInFanOut('init.glorotNormal', a);
    return mx.random.normal(a.shape, dtype, null, gain * Math.sqrt(2.0 / (fanIn + fanOut)));
  };
}

/** Glorot (Xavier) uniform: U[-limit, limit) with limit = gain * sqrt(6 / (fan_in + fan_out)). */
export function glorotUniform(dtype: DTypeLike = 'float32'): (a: Array, gain?: number) => Array {
  return (a, gain = 1.0) => {
    const [fanIn, fanOut] = fanInFanOut('init.glorotUniform', a);
    const limit = gain * Math.sqrt(6.0 / (fanIn + fanOut));
    return mx.random.uniform(-limit, limit, a.shape, dtype);
  };
}

/** He (Kaiming) normal: std = gain / sqrt(fan). */
export function heNormal(dtype: DTypeLike = 'float32'): (a: Array, mode?: FanMode, gain?: number) => Array {
  return (a, mode = 'fan_in', gain = 1.0) => mx.random.normal(a.shape, dtype, null, gain / Math.sqrt(pickFan('init.heNormal', a, mode)));
}

/** He (Kaiming) uniform: U[-limit, limit) with limit = gain * sqrt(3 / fan). */
export function heUniform(dtype: DTypeLike = 'float32'): (a: Array, mode?: FanMode, gain?: number) => Array {
  return (a, mode = 'fan_in', gain = 1.0) => {
    const limit = gain * Math.sqrt(3.0 / pickFan('init.heUniform', a, mode));
    return mx.random.uniform(-limit, limit, a.shape, dtype);
  };
}

/**
 * A 2-D matrix with orthonormal rows or columns (whichever are fewer), times `gain`: Q of
 * the QR of a square normal matrix of the larger side, signs fixed by diag(R), sliced.
 */
export function orthogonal(gain = 1.0, dtype: DTypeLike = 'float32'): Initializer {
  return (a) => {
    if (a.ndim !== 2) throw new Error(`[init.orthogonal] only 2-D arrays are supported, got shape ${fmt(a.shape)}`);
    const [rows, cols] = a.shape;
    const n = Math.max(rows, cols);
    const [q, r] = mx.linalg.qr(mx.random.normal([n, n], dtype), { stream: mx.cpu });
    const signed = mx.multiply(q, mx.sign(mx.diag(r)));
    return mx.multiply(mx.slice(signed, [0, 0], [0, 1], [rows, cols]), gain);
  };
}

/**
 * Normal samples with ceil(sparsity * cols) entries of each row set to zero, at random
 * columns (MLX's sparse initializer; 2-D arrays only).
 */
export function sparse(sparsity: number, mean = 0.0, std = 1.0, dtype: DTypeLike = 'float32'): Initializer {
  return (a) => {
    if (a.ndim !== 2) throw new Error(`[init.sparse] only 2-D arrays are supported, got shape ${fmt(a.shape)}`);
    const [rows, cols] = a.shape;
    const numZeros = Math.ceil(sparsity * cols);
    const order = mx.argsort(mx.random.uniform(0, 1, a.shape), 1);
    const w = mx.random.normal(a.shape, dtype, mean, std);
    if (numZeros <= 0) return w;
    return mx.putAlongAxis(w, mx.slice(order, [0, 0], [0, 1], [rows, Math.min(numZeros, cols)]), 0, 1);
  };
}
