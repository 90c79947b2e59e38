// Elementwise ops: what the NumPy goldens cannot express (signed zeros, loop layouts, lazy
// errors, exact 64-bit integers, derivative edge cases). Values are covered by the goldens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

const vals = (a: mx.Array) => [...a.dataSync()].map(Number);
const isNegZero = (a: mx.Array) => [...a.dataSync()].map((v) => Object.is(v, -0));

test('signed zeros follow NumPy', () => {
  const f = (v: number[]) => mx.array(v, 'float64');
  assert.deepEqual(isNegZero(mx.abs(f([-0]))), [false]);
  assert.deepEqual(isNegZero(mx.round(f([-0.4, 0.4, -0.5]))), [true, false, true]);
  assert.deepEqual(isNegZero(mx.ceil(f([-0.5]))), [true]);
  assert.deepEqual(isNegZero(mx.remainder(f([0, -0, 3, -3]), f([-3, 3, -3, 3]))), [true, false, true, false]);
  assert.deepEqual(isNegZero(mx.floorDivide(f([0, 1]), f([-3, -Infinity]))), [true, false]);
  assert.deepEqual(isNegZero(mx.multiply(f([-0]), 5)), [true]);
  assert.deepEqual(isNegZero(mx.maximum(f([0, -0]), f([-0, 0]))), [true, false]); // ties return the second argument
  assert.deepEqual(isNegZero(mx.sqrt(f([-0]))), [true]);
  assert.deepEqual(vals(mx.reciprocal(f([-0, 0]))), [-Infinity, Infinity]);
});

test('contiguous, scalar and broadcast (strided) loops agree with a plain loop', () => {
  const m = 300, n = 401;
  const a = Float32Array.from({ length: m * n }, (_, i) => Math.sin(i));
  const col = Float32Array.from({ length: m }, (_, i) => i / 7);
  const row = Float32Array.from({ length: n }, (_, j) => Math.cos(j));
  const A = mx.reshape(mx.array(a), [m, n]);
  const C = mx.reshape(mx.array(col), [m, 1]), R = mx.array(row);
  const full = mx.add(A, A).dataSync(), sc = mx.multiply(A, 3).dataSync();
  const bc = mx.subtract(C, R).dataSync(), mixed = mx.where(mx.greater(A, 0), C, R).dataSync();
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    const k = i * n + j;
    assert.equal(full[k], Math.fround(a[k] + a[k]));
    assert.equal(sc[k], Math.fround(a[k] * 3));
    assert.equal(bc[k], Math.fround(col[i] - row[j]));
    assert.equal(mixed[k], a[k] > 0 ? col[i] : row[j]);
  }
});

test('errors are thrown when the node is built, before evaluation', () => {
  const a = mx.zeros([2, 3]), b = mx.zeros([4]);
  assert.throws(() => mx.add(a, b), { message: '[add] shapes (2,3) and (4,) cannot be broadcast together' });
  assert.throws(() => mx.where(mx.zeros([4], 'bool'), a, 0), { message: /^\[where\] shapes \(4,\) and \(2,3\) and \(\) cannot/ });
  assert.throws(() => mx.bitwiseOr(a, 1), { name: 'TypeError', message: /^\[bitwiseOr\] expected integer or bool inputs, got float32 and scalar 1/ });
  assert.throws(() => mx.leftShift(mx.zeros([2], 'float16'), mx.zeros([2], 'int8')), { message: /^\[leftShift\] expected integer or bool inputs, got float16 and int8/ });
  assert.throws(() => mx.bitwiseInvert(a), { message: '[bitwiseInvert] expected an integer or bool array, got float32' });
  assert.throws(() => mx.subtract(mx.zeros([2], 'bool'), mx.zeros([2], 'bool')), { message: /^\[subtract\] subtraction is not defined for bools/ });
  assert.throws(() => mx.negative(mx.zeros([2], 'bool')), { message: /^\[negative\] not defined for bool arrays; use logicalNot/ });
  assert.throws(() => mx.clip(a, null, null), { message: /^\[clip\]/ });
  assert.throws(() => mx.round(a, 0.5), { message: /^\[round\] decimals must be an integer/ });
  // bools are fine where they have a meaning
  assert.deepEqual(vals(mx.subtract(mx.array([true, false]), 1)), [0, -1]);
  assert.deepEqual(vals(mx.leftShift(mx.array([true, true]), mx.array([true, false]))), [2, 1]);
  assert.equal(mx.leftShift(mx.array([true]), mx.array([true])).dtype, mx.uint8);
});

test('64-bit integers are exact and wrap', () => {
  const max = 2n ** 63n - 1n, min = -(2n ** 63n);
  const i = (v: bigint[]) => mx.array(v, 'int64');
  assert.deepEqual([...mx.add(i([max]), i([1n])).dataSync()], [min]);
  assert.deepEqual([...mx.multiply(i([3037000500n]), i([3037000500n])).dataSync()], [BigInt.asIntN(64, 3037000500n ** 2n)]);
  assert.deepEqual([...mx.floorDivide(i([-7n, 7n, min, 5n]), i([2n, -2n, -1n, 0n])).dataSync()], [-4n, -4n, min, 0n]);
  assert.deepEqual([...mx.remainder(i([-7n, 7n, 5n]), i([2n, -2n, 0n])).dataSync()], [1n, -1n, 0n]);
  assert.deepEqual([...mx.leftShift(i([1n, 1n, 1n]), i([63n, 64n, -1n])).dataSync()], [min, 0n, 0n]);
  assert.deepEqual([...mx.rightShift(i([min, -1n, 8n]), i([70n, 1n, -1n])).dataSync()], [-1n, -1n, 0n]);
  assert.deepEqual([...mx.power(i([3n, -2n]), i([40n, 63n])).dataSync()], [BigInt.asIntN(64, 3n ** 40n), min]);
  const u = mx.array([2n ** 64n - 1n, 5n], 'uint64');
  assert.deepEqual([...mx.add(u, 1).dataSync()], [0n, 6n]);
  assert.deepEqual([...mx.negative(u).dataSync()], [1n, 2n ** 64n - 5n]);
  assert.deepEqual([...mx.bitwiseInvert(u).dataSync()], [0n, 2n ** 64n - 6n]);
  assert.deepEqual([...mx.greater(u, mx.array([1n, 7n], 'uint64')).dataSync()], [1, 0]);
});

test('integer division by zero gives 0; float division gives Inf and NaN', () => {
  const a = mx.array([7, -7, 0], 'int32'), z = mx.zeros([3], 'int32');
  assert.deepEqual(vals(mx.floorDivide(a, z)), [0, 0, 0]);
  assert.deepEqual(vals(mx.remainder(a, z)), [0, 0, 0]);
  const d = mx.divide(a, z);
  assert.equal(d.dtype, mx.float32);
  assert.deepEqual(vals(d), [Infinity, -Infinity, NaN]);
  assert.deepEqual(vals(mx.floorDivide(mx.array([-2147483648], 'int32'), -1)), [-2147483648]);
});

test('half-precision arithmetic rounds once, to nearest even', () => {
  const h = (v: number[]) => mx.array(v, 'float16');
  assert.deepEqual(vals(mx.add(h([2048, 2048, 2048]), h([1, 3, 0.5]))), [2048, 2052, 2048]);
  assert.deepEqual(vals(mx.multiply(h([65504]), 2)), [Infinity]);
  const b = (v: number[]) => mx.array(v, 'bfloat16');
  assert.deepEqual(vals(mx.add(b([256, 256]), b([1, 3]))), [256, 260]);
  // where moves the bits of halves unchanged
  const x = h([-0, 65504, 6e-8]);
  assert.deepEqual(isNegZero(mx.where(mx.array([true, true, true]), x, 0)), [true, false, false]);
  assert.deepEqual(vals(mx.where(mx.array([true, true, true]), x, 0)), vals(x));
});

test('C semantics where Math differs: pow, logical values of NaN', () => {
  const f = (v: number[]) => mx.array(v, 'float64');
  assert.deepEqual(vals(mx.power(f([1, -1, -1, 2]), f([NaN, Infinity, -Infinity, NaN]))), [1, 1, 1, NaN]);
  assert.deepEqual(vals(mx.logicalNot(f([NaN, 0, -0, 2]))), [0, 1, 1, 0]);
  assert.deepEqual(vals(mx.logicalAnd(f([NaN, NaN]), f([1, 0]))), [1, 0]);
  assert.deepEqual(vals(mx.astype(f([NaN, -0, 0.1]), 'bool')), [1, 0, 1]);
  assert.deepEqual(vals(mx.logaddexp(f([NaN, -Infinity, Infinity]), f([Infinity, -Infinity, -Infinity]))), [NaN, -Infinity, Infinity]);
});

test('isclose: infinities are close only to themselves', () => {
  const a = mx.array([1, Infinity, -Infinity, Infinity, NaN, 1e30]);
  const b = mx.array([Infinity, Infinity, -Infinity, -Infinity, NaN, Infinity]);
  assert.deepEqual(vals(mx.isclose(a, b)), [0, 1, 1, 0, 0, 0]);
  assert.deepEqual(vals(mx.isclose(a, b, 1e-5, 1e-8, true)), [0, 1, 1, 0, 1, 0]);
  assert.equal(mx.allclose(mx.array([1, 2]), mx.array([1, 2 + 1e-6])).item(), true);
  assert.equal(mx.arrayEqual(mx.array([1, 2]), mx.array([1, 2, 3])).item(), false);
});

test('round: half to even at every scale, NumPy float32 steps', () => {
  const x = mx.array([0.5, 1.5, 2.5, -0.5, -1.5, 1e15 + 0.5, 4503599627370495.5], 'float64');
  assert.deepEqual(vals(mx.round(x)), [0, 2, 2, -0, -2, 1e15, 4503599627370496]);
  assert.deepEqual(vals(mx.round(mx.array([2.675], 'float32'), 2)), [Math.fround(2.68)]); // 267.5 in float32
  assert.deepEqual(vals(mx.round(mx.array([2.675], 'float64'), 2)), [2.68]);
  assert.deepEqual(vals(mx.round(mx.array([15, 25, -15, 35], 'int32'), -1)), [20, 20, -20, 40]);
  assert.equal(mx.round(mx.array([15], 'int8'), -1).dtype, mx.int8);
});

test('derivative edge cases', () => {
  // d/da a^b at b = 0 is 0 even at a = 0; d/db a^b at a = 0 is taken as 0
  const ga = mx.grad((a: mx.Array) => mx.sum(mx.power(a, mx.array([0, 0, 2], 'float32'))))(mx.array([0, 3, 0], 'float32'));
  assert.deepEqual(vals(ga), [0, 0, 0]);
  const gb = mx.grad((b: mx.Array) => mx.sum(mx.power(mx.array([0, 2], 'float32'), b)))(mx.array([2, 3], 'float32'));
  assert.deepEqual(vals(gb).map((v) => +v.toFixed(5)), [0, +(8 * Math.LN2).toFixed(5)]);
  // a tangent of a broadcast input is broadcast to the output
  const [, t] = mx.jvp((a: mx.Array, b: mx.Array) => mx.add(a, b), [mx.zeros([3]), mx.zeros([2, 3])], [mx.ones([3]), mx.zeros([2, 3])]);
  assert.deepEqual(([t].flat(2)[0] as mx.Array).shape, [2, 3]);
  // maximum sends a tie's gradient to its first argument
  const [gx, gy] = mx.grad((x: mx.Array, y: mx.Array) => mx.sum(mx.maximum(x, y)), [0, 1])(mx.array([1, 2], 'float32'), mx.array([1, 1], 'float32'));
  assert.deepEqual([vals(gx), vals(gy)], [[1, 1], [0, 0]]);
});
