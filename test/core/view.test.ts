// view (bit reinterpretation) beyond the NumPy goldens: exact bit patterns of halves and
// 64-bit integers, bool bytes, shapes, laziness, transforms, and errors at build time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

test('view reads the same bytes as another dtype', () => {
  assert.deepEqual(mx.view(mx.array([1, -2], mx.float32), mx.uint32).tolist(), [0x3f800000, 0xc0000000]);
  assert.deepEqual(mx.view(mx.array([0x3f800000], mx.uint32), mx.float32).tolist(), [1]);
  // float16 1.0 is 0x3c00; bfloat16 1.0 is 0x3f80 (the top half of float32's bits).
  assert.deepEqual(mx.view(mx.array([1, -0, Infinity], mx.float16), mx.uint16).tolist(), [0x3c00, 0x8000, 0x7c00]);
  assert.deepEqual(mx.view(mx.array([1, 3.5], mx.bfloat16), mx.int16).tolist(), [0x3f80, 0x4060]);
  assert.deepEqual(mx.view(mx.array([0x3c00, 0x0001], mx.uint16), mx.float16).tolist(), [1, 2 ** -24], 'subnormal bits stay exact');
  assert.deepEqual(mx.view(mx.array([0x3f80], mx.uint16), mx.bfloat16).tolist(), [1]);
  assert.deepEqual(mx.view(mx.array([1], mx.float16), mx.bfloat16).tolist(), [2 ** -7], 'bits 0x3c00 as bfloat16');
});

test('view between sizes scales the last axis (little-endian byte order)', () => {
  const x = mx.array([[1, 2, 3, 4], [-1, 0, 7, 8]], mx.int32);
  const wide = mx.view(x, mx.int64);
  assert.deepEqual(wide.shape, [2, 2]);
  assert.deepEqual(wide.tolist(), [[(2n << 32n) | 1n, (4n << 32n) | 3n], [0xffffffffn, (8n << 32n) | 7n]]);
  const narrow = mx.view(mx.array([0x01020304], mx.uint32), mx.uint8);
  assert.deepEqual(narrow.shape, [4]);
  assert.deepEqual(narrow.tolist(), [4, 3, 2, 1]);
  assert.deepEqual(mx.view(mx.view(x, mx.int8), mx.int32).tolist(), x.tolist(), 'a round trip is the identity');
  assert.deepEqual(mx.view(mx.array([-1n], mx.int64), mx.uint64).tolist(), [2n ** 64n - 1n]);
  assert.deepEqual(mx.view(mx.zeros([3, 0], mx.float32), mx.uint8).shape, [3, 0]);
  assert.deepEqual(mx.view(mx.zeros([0, 8], mx.uint8), mx.float64).shape, [0, 1]);
});

test('bytes read as bool are true when nonzero, stored as 0/1', () => {
  const b = mx.view(mx.array([0, 1, 2, 255], mx.uint8), mx.bool);
  assert.deepEqual(b.tolist(), [false, true, true, true]);
  assert.deepEqual([...b.dataSync()], [0, 1, 1, 1]);
  assert.deepEqual(mx.logicalNot(b).tolist(), [true, false, false, false]);
  assert.deepEqual(mx.view(mx.array([true, false]), mx.int8).tolist(), [1, 0]);
});

test('a 0-d array may change only to a dtype of its size', () => {
  assert.equal(mx.view(mx.array(1, mx.float32), mx.int32).item(), 0x3f800000);
  assert.deepEqual(mx.view(mx.array(1, mx.float32), mx.int32).shape, []);
  assert.throws(() => mx.view(mx.array(1, mx.float32), mx.int64), /^Error: \[view\] cannot view a float32 array of shape \(\) as int64: a 0-d array/);
});

test('view refuses a last axis whose bytes do not divide, when the node is built', () => {
  assert.throws(() => mx.view(mx.zeros([2, 3], mx.int16), mx.float32),
    /^Error: \[view\] cannot view a int16 array of shape \(2,3\) as float32: the last axis holds 6 bytes, which is not a multiple of the 4-byte itemsize/);
  assert.throws(() => mx.view(mx.zeros([3], mx.uint8), mx.float16), /\[view\].*shape \(3,\) as float16/);
  assert.throws(() => mx.view(mx.zeros([2]), 'float8' as mx.DTypeName), /^TypeError: \[view\] unknown dtype 'float8'/);
});

test('view is lazy, returns its input for the same dtype, and has the shape at once', () => {
  const x = mx.arange(6, null, null, mx.float32);
  assert.equal(mx.view(x, mx.float32), x);
  const v = mx.view(x, mx.float16);
  assert.ok(!v.isEvaluated);
  assert.deepEqual(v.shape, [12]);
  assert.equal(v._node?.prim.name, 'view');
});

test('view passes no gradient and maps over any batch axis', () => {
  const g = mx.grad((x: mx.Array) => mx.sum(mx.multiply(x, mx.astype(mx.view(x, mx.int32), mx.float32))))(mx.array([1, 2], mx.float32));
  assert.deepEqual(g.tolist(), [0x3f800000, 0x40000000], 'only the direct path of x carries gradient');
  const x = mx.reshape(mx.arange(12, null, null, mx.int32), [3, 4]);
  const want = mx.view(x, mx.int64).tolist();
  assert.deepEqual(mx.vmap((r: mx.Array) => mx.view(r, mx.int64))(x).tolist(), want);
  const byCol = mx.vmap((c: mx.Array) => mx.view(c, mx.int8), 1, 1)(x);
  assert.deepEqual(byCol.shape, [12, 4]);
  assert.deepEqual(byCol.tolist(), mx.transpose(mx.view(mx.transpose(x), mx.int8)).tolist(), 'column j is the bytes of column j');
});
