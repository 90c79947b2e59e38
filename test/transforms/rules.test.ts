// The rule table: a sample call for every registered primitive, checked by finite
// differences (vjp), against vjp (jvp), and against a loop (vmap). Each primitive must be
// in the table or excluded with a reason, so new primitives cannot slip through untested.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { depends } from '../../src/core/transforms/custom.js';
import { bindScatterAxis } from '../../src/core/ops/indexing.js';
import { getPrimitive } from '../../src/core/primitive.js';
import { Case, InputSpec, checkGradients, checkVmap, vmapVariants } from './check.js';

const f64 = (shape: number[], more: Partial<InputSpec> = {}): InputSpec => ({ shape, ...more });
const i32 = (shape: number[], lo = -5, hi = 5): InputSpec => ({ shape, dtype: 'int32', lo, hi });
const b8 = (shape: number[]): InputSpec => ({ shape, dtype: 'bool' });
const u32 = (shape: number[]): InputSpec => ({ shape, dtype: 'uint32', lo: 0, hi: 2 ** 32 - 1 });
type Op1 = (x: mx.Array) => mx.Array;
type Op2 = (a: mx.Array, b: mx.Array) => mx.Array;

/** Unary cases: a 0-d input and a 2-d one, from `domain`. */
const unary = (f: Op1, domain: Partial<InputSpec> = {}): Case[] => [[], [2, 3]].map((s) => ({ fn: f, inputs: [f64(s, domain)] }));
/** Binary cases over broadcasting shape pairs. */
const pairs: [number[], number[]][] = [[[2, 3], [2, 3]], [[2, 3], [3]], [[2, 1], [1, 3]], [[], [2, 3]]];
const binary = (f: Op2, a: Partial<InputSpec> = {}, b: Partial<InputSpec> = {}): Case[] => pairs.map(([sa, sb]) => ({ fn: f, inputs: [f64(sa, a), f64(sb, b)] }));
const intBinary = (f: Op2, lo = -5, hi = 5, blo = lo, bhi = hi): Case[] => pairs.slice(0, 3).map(([sa, sb]) => ({ fn: f, inputs: [i32(sa, lo, hi), i32(sb, blo, bhi)] }));
const boolBinary = (f: Op2): Case[] => pairs.slice(1, 3).map(([sa, sb]) => ({ fn: f, inputs: [b8(sa), b8(sb)] }));

const pos = { lo: 0.3, hi: 2 };
const unit = { lo: -0.8, hi: 0.8 };

const cfDefault = mx.customFunction((x: mx.Array, y: mx.Array) => mx.multiply(mx.sin(x), y));
// The true derivatives, given as overrides: the checks see the user's rules.
const cfCustom = mx.customFunction((x: mx.Array, y: mx.Array) => mx.multiply(mx.sin(x), y))
  .vjp(([x, y], ct) => [mx.multiply(ct, mx.multiply(mx.cos(x), y)), mx.multiply(ct, mx.sin(x))])
  .jvp(([x, y], [tx, ty]) => mx.add(mx.multiply(tx, mx.multiply(mx.cos(x), y)), mx.multiply(ty, mx.sin(x))))
  .vmap(([x, y], [ax, ay]) => {
    const xb = ax === null ? x : mx.moveaxis(x, ax, 0), yb = ay === null ? y : mx.moveaxis(y, ay, 0);
    return [mx.multiply(mx.sin(xb), yb), 0];
  });

export const table: Record<string, Case[]> = {
  abs: unary(mx.abs, { nonzero: true }),
  negative: unary(mx.negative),
  sign: unary(mx.sign, { nonzero: true }),
  exp: unary(mx.exp),
  expm1: unary(mx.expm1),
  log: unary(mx.log, pos),
  log1p: unary(mx.log1p, { lo: -0.5, hi: 2 }),
  log2: unary(mx.log2, pos),
  log10: unary(mx.log10, pos),
  sqrt: unary(mx.sqrt, pos),
  rsqrt: unary(mx.rsqrt, pos),
  square: unary(mx.square),
  reciprocal: unary(mx.reciprocal, { nonzero: true }),
  sin: unary(mx.sin),
  cos: unary(mx.cos),
  tan: unary(mx.tan, { lo: -1.2, hi: 1.2 }),
  arcsin: unary(mx.arcsin, unit),
  arccos: unary(mx.arccos, unit),
  arctan: unary(mx.arctan),
  sinh: unary(mx.sinh),
  cosh: unary(mx.cosh),
  tanh: unary(mx.tanh),
  arcsinh: unary(mx.arcsinh),
  arccosh: unary(mx.arccosh, { lo: 1.2, hi: 3 }),
  arctanh: unary(mx.arctanh, unit),
  erf: unary(mx.erf),
  erfinv: unary(mx.erfinv, unit),
  sigmoid: unary(mx.sigmoid),
  floor: unary(mx.floor),
  ceil: unary(mx.ceil),
  round: [...unary(mx.round), { fn: (x) => mx.round(x, 1), inputs: [f64([4])] }],
  isnan: [{ fn: mx.isnan, inputs: [f64([2, 3], { values: [0, NaN, 1, Infinity, NaN, -2] })] }],
  isinf: [{ fn: mx.isinf, inputs: [f64([2, 3], { values: [0, NaN, 1, Infinity, -Infinity, -2] })] }],
  isfinite: [{ fn: mx.isfinite, inputs: [f64([2, 3], { values: [0, NaN, 1, Infinity, -Infinity, -2] })] }],
  logicalNot: [{ fn: mx.logicalNot, inputs: [b8([2, 3])] }],
  bitwiseInvert: [{ fn: mx.bitwiseInvert, inputs: [i32([2, 3])] }],
  // stopGradient's value is x but its derivative is zero by definition: see transforms.test.ts.
  stopGradient: [{ fn: mx.stopGradient, inputs: [f64([2, 3])], grad: false }],

  add: binary(mx.add),
  subtract: binary(mx.subtract),
  multiply: binary(mx.multiply),
  divide: binary(mx.divide, {}, { nonzero: true }),
  power: binary(mx.power, pos),
  maximum: binary(mx.maximum),
  minimum: binary(mx.minimum),
  arctan2: binary(mx.arctan2, {}, { nonzero: true }),
  logaddexp: binary(mx.logaddexp),
  remainder: binary(mx.remainder, {}, { nonzero: true }),
  floorDivide: [...binary(mx.floorDivide, {}, { nonzero: true }), ...intBinary(mx.floorDivide, -5, 5, 1, 3)],
  equal: intBinary(mx.equal, 0, 2),
  notEqual: intBinary(mx.notEqual, 0, 2),
  less: binary(mx.less),
  lessEqual: intBinary(mx.lessEqual, 0, 2),
  greater: binary(mx.greater),
  greaterEqual: intBinary(mx.greaterEqual, 0, 2),
  logicalAnd: boolBinary(mx.logicalAnd),
  logicalOr: boolBinary(mx.logicalOr),
  bitwiseAnd: intBinary(mx.bitwiseAnd),
  bitwiseOr: intBinary(mx.bitwiseOr),
  bitwiseXor: intBinary(mx.bitwiseXor),
  leftShift: intBinary(mx.leftShift, 0, 9, 0, 4),
  rightShift: intBinary(mx.rightShift, -9, 9, 0, 3),
  select: [
    { fn: mx.where, inputs: [b8([2, 3]), f64([2, 3]), f64([3])] },
    { fn: mx.where, inputs: [b8([3]), f64([2, 1]), f64([])] },
  ],

  sum: [
    ...[0, 1, -1, null].map((axis): Case => ({ fn: (x) => mx.sum(x, axis), inputs: [f64([2, 3])], label: `axis ${axis}` })),
    { fn: (x) => mx.sum(x, [0, 2], true), inputs: [f64([2, 3, 2])], label: 'axes [0,2] keepdims' },
    { fn: (x) => mx.sum(x), inputs: [f64([])], label: '0-d' },
  ],
  all: [{ fn: (x) => mx.all(x, 0), inputs: [b8([2, 3])] }, { fn: (x) => mx.all(x), inputs: [b8([3])] }],
  any: [{ fn: (x) => mx.any(x, -1), inputs: [b8([2, 3])] }],

  astype: [
    { fn: (x) => mx.astype(x, 'float32'), inputs: [f64([2, 3])], h: 1e-3, rtol: 1e-3, atol: 1e-4 },
    { fn: (x) => mx.astype(x, 'int32'), inputs: [f64([2, 3], { lo: -5, hi: 5 })] },
    { fn: (x) => mx.astype(x, 'float64'), inputs: [i32([2, 3])] },
  ],
  view: [
    { fn: (x) => mx.view(x, 'uint32'), inputs: [f64([2, 3])] },
    { fn: (x) => mx.view(x, 'float32'), inputs: [f64([2, 3])], grad: false, label: 'float to float' },
    { fn: (x) => mx.view(x, 'int64'), inputs: [i32([3, 4])], label: 'to a larger dtype' },
    { fn: (x) => mx.view(x, 'int64'), inputs: [f64([])], label: '0-d' },
  ],
  reshape: [
    { fn: (x) => mx.reshape(x, [3, 2]), inputs: [f64([2, 3])] },
    { fn: (x) => mx.reshape(x, [1, 1]), inputs: [f64([])] },
    { fn: (x) => mx.reshape(x, [-1]), inputs: [f64([2, 1, 3])] },
  ],
  broadcast: [
    { fn: (x) => mx.broadcastTo(x, [2, 3]), inputs: [f64([3])] },
    { fn: (x) => mx.broadcastTo(x, [2, 2, 4]), inputs: [f64([2, 1])] },
    { fn: (x) => mx.broadcastTo(x, [2, 2]), inputs: [f64([])] },
  ],
  transpose: [
    { fn: (x) => mx.transpose(x), inputs: [f64([2, 3])] },
    { fn: (x) => mx.transpose(x, [2, 0, 1]), inputs: [f64([2, 3, 2])] },
  ],

  prod: [
    { fn: (x) => mx.prod(x, 1), inputs: [f64([2, 3], { nonzero: true })] },
    { fn: (x) => mx.prod(x), inputs: [f64([2, 2], { nonzero: true })] },
    { fn: (x) => mx.prod(x, 0), inputs: [f64([3, 2], { values: [0, 1.5, 2, 0, -1, 0.5] })], label: 'with zeros' },
  ],
  max: [
    { fn: (x) => mx.max(x, 1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.max(x, null, true), inputs: [f64([2, 3])] },
  ],
  min: [
    { fn: (x) => mx.min(x, 0), inputs: [f64([2, 3])] },
    { fn: (x) => mx.min(x), inputs: [f64([3])] },
  ],
  logsumexp: [
    { fn: (x) => mx.logsumexp(x, -1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.logsumexp(x), inputs: [f64([2, 2])] },
  ],
  softmax: [
    { fn: (x) => mx.softmax(x, -1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.softmax(x, [0, 1]), inputs: [f64([2, 2])] },
  ],
  argmax: [{ fn: (x) => mx.argmax(x, 1), inputs: [f64([2, 3])] }, { fn: (x) => mx.argmax(x), inputs: [f64([2, 3])] }],
  argmin: [{ fn: (x) => mx.argmin(x, 0), inputs: [f64([2, 3])] }],

  cumsum: [
    { fn: (x) => mx.cumsum(x, 1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.cumsum(x, 0, true), inputs: [f64([3, 2])], label: 'reverse' },
    { fn: (x) => mx.cumsum(x, -1, false, false), inputs: [f64([2, 3])], label: 'exclusive' },
    { fn: (x) => mx.cumsum(x), inputs: [f64([2, 2])], label: 'flattened' },
  ],
  cumprod: [
    { fn: (x) => mx.cumprod(x, 1), inputs: [f64([2, 3], { nonzero: true })] },
    { fn: (x) => mx.cumprod(x, 0, true, false), inputs: [f64([3, 2], { nonzero: true })], label: 'reverse exclusive' },
    { fn: (x) => mx.cumprod(x, 0), inputs: [f64([4], { values: [1.5, 0, 2, -1] })], label: 'with a zero' },
  ],
  cummax: [{ fn: (x) => mx.cummax(x, 1), inputs: [f64([2, 4])] }, { fn: (x) => mx.cummax(x, 0, true), inputs: [f64([3, 2])] }],
  cummin: [{ fn: (x) => mx.cummin(x, -1), inputs: [f64([2, 4])] }, { fn: (x) => mx.cummin(x, 0, false, false), inputs: [f64([3, 2])] }],
  logcumsumexp: [
    { fn: (x) => mx.logcumsumexp(x, 1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.logcumsumexp(x, 0, true, false), inputs: [f64([3, 2])], label: 'reverse exclusive' },
  ],

  sort: [
    { fn: (x) => mx.sort(x, -1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.sort(x, 0), inputs: [f64([3, 2])] },
    { fn: (x) => mx.sort(x, null), inputs: [f64([2, 2])] },
  ],
  argsort: [{ fn: (x) => mx.argsort(x, -1), inputs: [f64([2, 3])] }],
  partition: [
    { fn: (x) => mx.partition(x, 1, -1), inputs: [f64([2, 4])] },
    { fn: (x) => mx.topk(x, 2, 0), inputs: [f64([4, 2])], label: 'topk' },
  ],
  argpartition: [{ fn: (x) => mx.argpartition(x, 2, -1), inputs: [f64([2, 4])] }],

  concatenate: [
    { fn: (a, b) => mx.concatenate([a, b], 1), inputs: [f64([2, 1]), f64([2, 3])] },
    { fn: (a, b) => mx.concatenate([a, b, a], 0), inputs: [f64([1, 2]), f64([2, 2])] },
    { fn: (a, b) => mx.stack([a, b], -1), inputs: [f64([3]), f64([3])], label: 'stack' },
  ],
  split: [
    { fn: (x) => mx.split(x, 3, 1), inputs: [f64([2, 3])] },
    { fn: (x) => mx.split(x, [1, 3], 0), inputs: [f64([4, 2])] },
  ],
  pad: [
    { fn: (x, v) => mx.pad(x, [[1, 0], [0, 2]], 'constant', v), inputs: [f64([2, 3]), f64([])], label: 'constant' },
    { fn: (x) => mx.pad(x, [[2, 1]], 'edge'), inputs: [f64([3])], label: 'edge' },
  ],
  diagonal: [
    { fn: (x) => mx.diagonal(x), inputs: [f64([3, 3])] },
    { fn: (x) => mx.diagonal(x, 1, 2, 0), inputs: [f64([3, 2, 4])] },
    { fn: (x) => mx.trace(x, -1), inputs: [f64([3, 3])], label: 'trace' },
  ],

  slice: [
    { fn: (x) => mx.stridedSlice(x, [0, 2], [2, 0], [1, -1]), inputs: [f64([3, 4])] },
    { fn: (x) => mx.stridedSlice(x, [null], [null], [2]), inputs: [f64([5, 2])] },
    { fn: (x) => mx.slice(x, [1], [1], [2, 2]), inputs: [f64([2, 4])], label: 'slice' },
  ],
  sliceUpdate: [
    { fn: (x, u) => mx.sliceUpdate(x, u, [1], [1]), inputs: [f64([2, 4]), f64([2, 2])] },
    { fn: (x, u) => mx.sliceUpdate(x, u, [0, 1], [0, 1]), inputs: [f64([3, 3]), f64([2, 1])] },
  ],
  gather: [
    { fn: (x, i) => mx.take(x, i, 1), inputs: [f64([2, 4]), i32([3], 0, 3)] },
    { fn: (x, i) => mx.take(x, i), inputs: [f64([2, 3]), i32([2, 2], 0, 5)], label: 'flattened' },
    { fn: (x, i, j) => mx.gather(x, [i, j], [0, 1], [1, 1, 2]), inputs: [f64([3, 3, 2]), i32([2], 0, 2), i32([2], 0, 2)] },
    { fn: (x, s) => mx.slice(x, s, [1], [2, 2]), inputs: [f64([2, 4]), i32([1], 0, 2)], label: 'dynamic slice' },
  ],
  scatter: [
    { fn: (x, i, u) => mx.scatter(x, i, u, 0), inputs: [f64([4, 2]), i32([2], 0, 3), f64([2, 1, 2])] },
    { fn: (x, i, u) => mx.scatter(x, i, u, 0), inputs: [f64([4, 2]), { ...i32([3]), values: [1, 3, 1] }, f64([3, 1, 2])], label: 'duplicates' },
    { fn: (x, i, u) => mx.scatter(x, i, u, 0), inputs: [f64([4]), { ...i32([2]), values: [0, 1] }, f64([2, 2])], label: 'overlapping windows' },
    { fn: (x, i, u) => mx.scatterAdd(x, i, u, 1), inputs: [f64([2, 3]), i32([4], 0, 2), f64([4, 2, 1])] },
    { fn: (x, i, u) => mx.scatterProd(x, i, u, 0), inputs: [f64([3, 2], { nonzero: true }), i32([3], 0, 2), f64([3, 1, 2], { nonzero: true })] },
    { fn: (x, i, u) => mx.scatterMax(x, i, u, 0), inputs: [f64([3]), i32([4], 0, 2), f64([4, 1])] },
    { fn: (x, i, u) => mx.scatterMin(x, i, u, 0), inputs: [f64([3]), i32([4], 0, 2), f64([4, 1])] },
    { fn: (x, u, s) => mx.sliceUpdate(x, u, s, [0]), inputs: [f64([4, 2]), f64([2, 2]), i32([1], 0, 2)], label: 'dynamic sliceUpdate' },
  ],
  gatherAxis: [
    { fn: (x, i) => mx.takeAlongAxis(x, i, 1), inputs: [f64([2, 3]), i32([2, 4], 0, 2)] },
    { fn: (x, i) => mx.takeAlongAxis(x, i, 0), inputs: [f64([3, 2]), i32([1, 2], 0, 2)], label: 'broadcast indices' },
  ],
  scatterAxis: [
    { fn: (x, i, v) => mx.putAlongAxis(x, i, v, 1), inputs: [f64([2, 3]), i32([2, 2], 0, 2), f64([2, 2])] },
    { fn: (x, i, v) => bindScatterAxis(x, i, v, 0, 'sum'), inputs: [f64([3, 2]), i32([4, 2], 0, 2), f64([4, 2])], label: 'sum' },
  ],
  searchsorted: [
    { fn: (a, v) => mx.searchsorted(a, v), inputs: [f64([4], { values: [-1, 0, 0.5, 1.5] }), f64([2, 3])] },
    { fn: (a, v) => mx.searchsorted(a, v, 'right'), inputs: [f64([3], { values: [0, 1, 1] }), f64([4], { values: [1, 0, 2, 1] })] },
  ],

  matmul: [
    { fn: mx.matmul, inputs: [f64([2, 3]), f64([3, 4])] },
    { fn: mx.matmul, inputs: [f64([3]), f64([3, 2])], label: 'vector-matrix' },
    { fn: mx.matmul, inputs: [f64([2, 3]), f64([3])], label: 'matrix-vector' },
    { fn: mx.matmul, inputs: [f64([2, 1, 2, 3]), f64([2, 3, 2])], label: 'broadcast batch' },
    // Transposed operands are read in place (the transposeA/transposeB params), not copied.
    { fn: (a, b) => mx.matmul(mx.swapaxes(a, -1, -2), mx.swapaxes(b, -1, -2)), inputs: [f64([3, 2]), f64([4, 3])], label: 'both stored transposed' },
    { fn: (a, b) => mx.matmul(a, mx.swapaxes(b, -1, -2)), inputs: [f64([2, 2, 3]), f64([4, 3])], label: 'x @ w.T, batched x' },
    { fn: (a, b) => mx.matmul(mx.swapaxes(a, -1, -2), b), inputs: [f64([2, 3, 2]), f64([2, 3, 4])], label: 'a.T @ b, batched' },
  ],
  conv: [
    { fn: (x, w) => mx.conv1d(x, w), inputs: [f64([1, 5, 2]), f64([3, 3, 2])] },
    { fn: (x, w) => mx.conv1d(x, w, 2, 1, 1, 2), inputs: [f64([2, 5, 4]), f64([2, 2, 2])], label: 'stride, padding, groups' },
    { fn: (x, w) => mx.conv2d(x, w, 1, 1, 2), inputs: [f64([1, 4, 3, 1]), f64([2, 2, 2, 1])], label: '2-d, dilation' },
    { fn: (x, w) => mx.convTranspose1d(x, w, 2, 1), inputs: [f64([1, 3, 2]), f64([2, 3, 2])], label: 'transposed' },
  ],
  // Quantization (src/core/ops/quantize.ts): packed weights are uint32 words of random bits.
  quantize: [{ fn: (w) => mx.quantize(w, 32, 3), inputs: [f64([2, 64])], grad: false }],
  dequantize: [{ fn: (wq, s, b) => mx.dequantize(wq, s, b, 32, 3), inputs: [u32([2, 6]), f64([2, 2]), f64([2, 2])] }],
  quantizedMatmul: [
    { fn: (x, wq, s, b) => mx.quantizedMatmul(x, wq, s, b, true, 32, 4), inputs: [f64([3, 64]), u32([5, 8]), f64([5, 2]), f64([5, 2])] },
    { fn: (x, wq, s, b) => mx.quantizedMatmul(x, wq, s, b, false, 32, 5), inputs: [f64([2, 3]), u32([3, 10]), f64([3, 2]), f64([3, 2])], label: 'not transposed' },
    { fn: (x, wq, s, b) => mx.quantizedMatmul(x, wq, s, b, true, 32, 4), inputs: [f64([2, 1, 32]), u32([2, 3, 4]), f64([2, 3, 1]), f64([2, 3, 1])], label: 'batched weight' },
    { fn: (x, wq, s, b) => mx.quantizedMatmul(x, wq, s, b, true, 32, 6), inputs: [f64([32]), u32([2, 6]), f64([2, 1]), f64([2, 1])], label: 'vector x' },
  ],

  inv: [{ fn: (a) => mx.linalg.inv(mx.add(a, mx.multiply(mx.eye(3, null, 0, 'float64'), 4))), inputs: [f64([3, 3])] }],
  solve: [
    { fn: (a, b) => mx.linalg.solve(mx.add(a, mx.multiply(mx.eye(3, null, 0, 'float64'), 4)), b), inputs: [f64([3, 3]), f64([3, 2])] },
    { fn: (a, b) => mx.linalg.solve(mx.add(a, mx.multiply(mx.eye(2, null, 0, 'float64'), 4)), b), inputs: [f64([2, 2, 2]), f64([2, 2])], label: 'batched, vector' },
  ],
  solveTriangular: [
    { fn: (a, b) => mx.linalg.solveTriangular(mx.add(a, mx.multiply(mx.eye(3, null, 0, 'float64'), 4)), b), inputs: [f64([3, 3]), f64([3, 2])] },
    { fn: (a, b) => mx.linalg.solveTriangular(mx.add(a, mx.multiply(mx.eye(3, null, 0, 'float64'), 4)), b, true), inputs: [f64([3, 3]), f64([3])], label: 'upper' },
  ],
  cholesky: [
    { fn: (a) => mx.linalg.cholesky(mx.add(mx.matmul(a, mx.swapaxes(a, -1, -2)), mx.multiply(mx.eye(3, null, 0, 'float64'), 2))), inputs: [f64([3, 3])] },
    { fn: (a) => mx.linalg.cholesky(mx.add(mx.matmul(a, mx.swapaxes(a, -1, -2)), mx.multiply(mx.eye(2, null, 0, 'float64'), 2)), true), inputs: [f64([2, 2, 2])], label: 'upper, batched' },
  ],
  qr: [{ fn: (a) => mx.linalg.qr(a), inputs: [f64([3, 3])] }, { fn: (a) => mx.linalg.qr(a), inputs: [f64([4, 3])], label: 'tall' }],
  svd: [
    { fn: (a) => mx.linalg.svd(a, false), inputs: [f64([3, 3])], label: 'values' },
    { fn: (a) => mx.linalg.svd(a), inputs: [f64([3, 3])], label: 'vectors' },
  ],
  eigh: [
    { fn: (a) => mx.linalg.eigvalsh(mx.add(a, mx.swapaxes(a, -1, -2))), inputs: [f64([3, 3])], label: 'values' },
    { fn: (a) => mx.linalg.eigh(mx.add(a, mx.swapaxes(a, -1, -2))), inputs: [f64([3, 3])], label: 'vectors' },
  ],

  randomBits: [
    { fn: (k) => mx.random.bits([3], 4, k), inputs: [{ shape: [2], dtype: 'uint32', lo: 0, hi: 1000 }], grad: false },
    { fn: (k) => mx.random.uniform(0, 1, [2, 2], 'float32', k), inputs: [{ shape: [2], dtype: 'uint32', lo: 0, hi: 1000 }], grad: false, label: 'uniform' },
  ],
  fused: [
    { fn: mx.compile((x: mx.Array, y: mx.Array) => mx.add(mx.multiply(mx.sin(x), y), mx.exp(mx.negative(y)))), inputs: [f64([2, 3]), f64([3])] },
  ],

  customFunction: [
    { fn: cfDefault, inputs: [f64([2, 3]), f64([3])], label: 'default rules' },
    { fn: cfCustom, inputs: [f64([2, 3]), f64([2, 3])], label: 'user rules' },
  ],
  depends: [{ fn: (x, y) => mx.multiply(depends([x], [y])[0], 2), inputs: [f64([2, 3]), f64([3])] }],
};

/** Registered primitives that the table does not cover, with why. */
export const excluded: Record<string, string> = {
  arange: 'no array inputs: nothing to differentiate or to map over',
  randomKey: 'no array inputs: nothing to differentiate or to map over',
  compileInput: "compile's stand-in for a traced input: it never appears in a graph a transform sees",
  fusedLinear: "compile's GEMV node, made only on backends that run it (the GPU); its rules go through its reference: test/transforms/fuse-linear.test.ts",
};

test('every registered primitive is in the rule table or excluded with a reason', () => {
  const missing = mx.primitives().filter((p) => !(p in table) && !(p in excluded));
  assert.deepEqual(missing, [], `add these primitives to test/transforms/rules.test.ts: ${missing.join(', ')}`);
  const stale = Object.keys(table).filter((p) => !mx.primitives().includes(p));
  assert.deepEqual(stale, [], 'table entries for primitives that are not registered');
});

test('every registered primitive has a vmap rule, and vjp and jvp rules unless it is non-differentiable', () => {
  const lacking = mx.primitives().flatMap((name) => {
    const p = getPrimitive(name)!;
    const miss = [!p.vmap && 'vmap', !p.nonDifferentiable && !p.vjp && 'vjp', !p.nonDifferentiable && !p.jvp && 'jvp'].filter(Boolean);
    return miss.length ? [`${name} (${miss.join(', ')})`] : [];
  });
  assert.deepEqual(lacking, []);
});

const only = process.env.PRIM?.split(',');
for (const [prim, cases] of Object.entries(table)) {
  if (only && !only.includes(prim)) continue;
  test(`rules: ${prim}`, () => {
    cases.forEach((c, i) => {
      const where = `${prim}[${i}]${c.label ? ` (${c.label})` : ''}`;
      if (c.grad !== false) checkGradients(c, 1000 + i, where);
      if (c.vmap !== false) for (const [j, v] of vmapVariants(c).entries())
        checkVmap(c, 2000 + 10 * i + j, `${where} vmap inAxes [${v.inAxes.join(',')}] outAxes ${v.outAxis}`, v.inAxes, v.outAxis);
    });
  });
}
