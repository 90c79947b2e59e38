// The Array class: properties, reads, and MLX's methods (src/core/methods.ts), each checked
// against the op it forwards to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

const x = mx.reshape(mx.arange(24, null, null, mx.float32), [2, 3, 4]);
const same = (a: mx.Array, b: mx.Array, where = '') => {
  assert.equal(a.dtype, b.dtype, `${where}: dtype`);
  assert.deepEqual(a.shape, b.shape, `${where}: shape`);
  assert.deepEqual(a.tolist(), b.tolist(), `${where}: values`);
};

test('properties and reads', async () => {
  assert.deepEqual(x.shape, [2, 3, 4]);
  assert.equal(x.ndim, 3);
  assert.equal(x.size, 24);
  assert.equal(x.itemsize, 4);
  assert.equal(x.nbytes, 96);
  assert.equal(x.dtype, mx.float32);
  assert.equal(mx.array([1, 2], mx.float16).itemsize, 2);
  assert.deepEqual(Array.from(await mx.array([1.5, 2]).data() as Float32Array), [1.5, 2]);
  assert.equal(mx.array(true).item(), true);
  assert.equal(mx.array([7n], mx.int64).item(), 7n);
  assert.throws(() => x.item(), /^Error: \[item\] only arrays with one element can be read as a scalar, got shape \(2,3,4\)/);
});

test('shape methods forward to their ops', () => {
  same(x.reshape(6, 4), mx.reshape(x, [6, 4]), 'reshape varargs');
  same(x.reshape([4, -1]), mx.reshape(x, [4, 6]), 'reshape list');
  same(x.transpose(), mx.transpose(x), 'transpose()');
  same(x.transpose(1, 0, 2), mx.transpose(x, [1, 0, 2]), 'transpose varargs');
  same(x.transpose([2, 0, 1]), mx.transpose(x, [2, 0, 1]), 'transpose list');
  same(x.T, mx.transpose(x), 'T');
  assert.deepEqual(mx.ones([2, 5]).T.shape, [5, 2]);
  same(x.flatten(), mx.flatten(x), 'flatten');
  same(x.flatten(1), mx.reshape(x, [2, 12]), 'flatten(1)');
  same(mx.ones([1, 3, 1]).squeeze(), mx.ones([3]), 'squeeze');
  same(x.swapaxes(0, 2), mx.swapaxes(x, 0, 2), 'swapaxes');
  same(x.moveaxis(0, -1), mx.moveaxis(x, 0, -1), 'moveaxis');
  const parts = x.split(3, 1);
  assert.equal(parts.length, 3);
  same(parts[1], mx.split(x, 3, 1)[1], 'split');
  same(x.diagonal(0, 1, 2), mx.diagonal(x, 0, 1, 2), 'diagonal');
  same(mx.array([1, 2, 3]).diag(), mx.diag(mx.array([1, 2, 3])), 'diag');
  same(x.take(mx.array([2, 0]), 2), mx.take(x, mx.array([2, 0]), 2), 'take');
  same(x.astype(mx.int16), mx.astype(x, mx.int16), 'astype');
  assert.equal(x.astype('bfloat16').dtype, mx.bfloat16);
});

test('reductions and scans forward axis and keepdims', () => {
  for (const name of ['sum', 'prod', 'mean', 'max', 'min', 'all', 'any', 'logsumexp', 'std', 'argmax', 'argmin'] as const) {
    const op = (mx as unknown as Record<string, (...a: unknown[]) => mx.Array>)[name];
    const method = (x as unknown as Record<string, (...a: unknown[]) => mx.Array>)[name];
    same(method.call(x), op(x), `${name}()`);
    if (name === 'argmax' || name === 'argmin') same(method.call(x, 1, true), op(x, 1, true), `${name}(1, true)`);
    else same(method.call(x, [0, 2], true), op(x, [0, 2], true), `${name}([0, 2], true)`);
  }
  same(x.var(-1, false, 1), mx.variance(x, -1, false, 1), 'var(-1, false, 1)');
  same(x.std(null, false, 1), mx.std(x, null, false, 1), 'std ddof');
  same(x.cumsum(1), mx.cumsum(x, 1), 'cumsum');
  same(x.cumprod(2, true), mx.cumprod(x, 2, true), 'cumprod reverse');
  same(x.cummax(0), mx.cummax(x, 0), 'cummax');
  same(x.cummin(-1), mx.cummin(x, -1), 'cummin');
  same(x.logcumsumexp(1), mx.logcumsumexp(x, 1), 'logcumsumexp');
  assert.equal(x.sum().item(), 276);
});

test('elementwise and arithmetic methods take ArrayLike and weak scalars', () => {
  const a = mx.array([1, 4, 9], mx.float32);
  for (const name of ['abs', 'negative', 'exp', 'log', 'log2', 'log10', 'log1p', 'sqrt', 'rsqrt', 'square', 'reciprocal', 'sin', 'cos', 'round', 'logicalNot'] as const) {
    const op = (mx as unknown as Record<string, (x: mx.Array) => mx.Array>)[name];
    same((a as unknown as Record<string, () => mx.Array>)[name].call(a), op(a), name);
  }
  same(mx.array([1.234, 5.678]).round(1), mx.round(mx.array([1.234, 5.678]), 1), 'round(1)');
  assert.deepEqual(a.add(1).tolist(), [2, 5, 10]);
  assert.equal(mx.array([1, 2], mx.int8).add(1).dtype, mx.int8, 'weak scalars keep the dtype');
  assert.deepEqual(a.subtract([1, 1, 1]).tolist(), [0, 3, 8]);
  assert.deepEqual(a.multiply(a).tolist(), [1, 16, 81]);
  assert.deepEqual(a.divide(2).tolist(), [0.5, 2, 4.5]);
  assert.deepEqual(a.power(2).tolist(), [1, 16, 81]);
  assert.deepEqual(mx.array([7, -7]).floorDivide(2).tolist(), [3, -4]);
  assert.deepEqual(mx.array([7, -7]).remainder(3).tolist(), [1, 2]);
  assert.deepEqual(a.maximum(4).tolist(), [4, 4, 9]);
  assert.deepEqual(a.minimum(4).tolist(), [1, 4, 4]);
  assert.deepEqual(a.equal(4).tolist(), [false, true, false]);
  assert.deepEqual(a.notEqual(4).tolist(), [true, false, true]);
  assert.deepEqual(a.less(4).tolist(), [true, false, false]);
  assert.deepEqual(a.lessEqual(4).tolist(), [true, true, false]);
  assert.deepEqual(a.greater(4).tolist(), [false, false, true]);
  assert.deepEqual(a.greaterEqual(4).tolist(), [false, true, true]);
  assert.deepEqual(mx.array([true, false]).logicalAnd(true).tolist(), [true, false]);
  assert.deepEqual(mx.array([true, false]).logicalOr(false).tolist(), [true, false]);
  same(mx.ones([2, 3]).matmul(mx.ones([3, 4])), mx.matmul(mx.ones([2, 3]), mx.ones([3, 4])), 'matmul');
  // Methods chain, and errors still name the op.
  assert.equal(a.square().sum().sqrt().item(), Math.fround(Math.sqrt(1 + 16 + 81)));
  assert.throws(() => mx.ones([2, 3]).add(mx.ones([4])), /^Error: \[add\] shapes \(2,3\) and \(4,\) cannot be broadcast together/);
});

test('iteration runs over the first axis, so keys destructure', () => {
  const rows = [...x];
  assert.equal(rows.length, 2);
  same(rows[1], mx.reshape(mx.arange(12, 24, null, mx.float32), [3, 4]), 'row 1');
  const [k1, k2] = mx.random.split(mx.random.key(0));
  assert.deepEqual(k1.tolist(), [4146024105, 967050713]);
  assert.deepEqual(k2.tolist(), [2718843009, 1272950319]);
  assert.deepEqual([...mx.zeros([0, 3])], []);
  assert.deepEqual([...mx.array([1, 2, 3])].map((e) => e.item()), [1, 2, 3]);
  assert.throws(() => [...mx.array(1)], /^TypeError: \[iter\] cannot iterate over a 0-d array/);
});

test('methods are not enumerable and do not shadow own properties', () => {
  const keys = Object.keys(mx.ones([2]));
  for (const m of ['sum', 'reshape', 'T', 'add']) assert.ok(!keys.includes(m), m);
  assert.ok(!Object.keys(mx.Array.prototype).includes('sum'));
});
