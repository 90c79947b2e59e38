// Creation ops beyond the NumPy goldens: MLX's dtype defaults, exact endpoints, laziness,
// and errors at build time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { getPrimitive } from '../../src/core/primitive.js';

test('arange picks int32 for integers and float32 otherwise (as MLX)', () => {
  assert.equal(mx.arange(5).dtype, mx.int32);
  assert.equal(mx.arange(1, 5, 2).dtype, mx.int32);
  assert.equal(mx.arange(0, 1, 0.5).dtype, mx.float32);
  assert.equal(mx.arange(2.5).dtype, mx.float32);
  assert.equal(mx.arange(5, null, null, 'float16').dtype, mx.float16);
  assert.deepEqual(mx.arange(3).tolist(), [0, 1, 2]);
  assert.deepEqual(mx.arange(5, 1, -2).tolist(), [5, 3]);
  assert.deepEqual(mx.arange(-2, 2, 1, 'uint64').tolist(), [2n ** 64n - 2n, 2n ** 64n - 1n, 0n, 1n], 'wraps as a C cast');
});

test('arange is one lazy primitive without array inputs', () => {
  const a = mx.arange(4);
  assert.equal(a._node?.prim.name, 'arange');
  assert.equal(a._node?.inputs.length, 0);
  assert.ok(!a.isEvaluated);
  const prim = getPrimitive('arange')!;
  assert.ok(prim.nonDifferentiable);
  const [t] = prim.jvp!([], { inputs: [], outputs: [a], params: a._node!.params });
  assert.deepEqual(t.tolist(), [0, 0, 0, 0]);
});

test('arange refuses bad ranges when the node is built', () => {
  assert.throws(() => mx.arange(0, 1, 0), /^Error: \[arange\] step must not be zero/);
  assert.throws(() => mx.arange(0, Infinity), /\[arange\] cannot compute the length/);
  assert.throws(() => mx.arange(NaN), /\[arange\] cannot compute the length/);
  assert.throws(() => mx.arange(0, 2 ** 32), /\[arange\] a range of 4294967296 elements is too large/);
  assert.throws(() => mx.arange(3, null, null, 'bool'), /\[arange\] bool/);
  assert.deepEqual(mx.arange(0, 5, -Infinity).shape, [0]);
  assert.deepEqual(mx.arange(0, 5, Infinity).tolist(), [0], 'an infinite step in the right direction gives the start');
});

test('linspace hits both ends exactly and computes float64 in float64', () => {
  const a = mx.linspace(0, 0.3, 4).tolist() as number[];
  assert.equal(a[3], Math.fround(0.3));
  assert.equal(a[0], 0);
  const b = mx.linspace(0, 1, 3, 'float64');
  assert.equal(b.dtype, mx.float64);
  assert.deepEqual(b.tolist(), [0, 0.5, 1]);
  assert.deepEqual(mx.linspace(0.1, 5, 1, 'float64').tolist(), [0.1]);
  assert.equal(mx.linspace(0, 1).size, 50);
  assert.throws(() => mx.linspace(0, 1, 2.5), /\[linspace\] the number of samples must be a non-negative integer, got 2.5/);
});

test('eye, identity and tri default to float32; tril and triu keep the dtype and batch', () => {
  assert.equal(mx.eye(2).dtype, mx.float32);
  assert.equal(mx.identity(2).dtype, mx.float32);
  assert.equal(mx.tri(2).dtype, mx.float32);
  assert.deepEqual(mx.eye(2, 3, -1, 'int32').tolist(), [[0, 0, 0], [1, 0, 0]]);
  const x = mx.reshape(mx.arange(1, 9, 1, 'int64'), [2, 2, 2]);
  const l = mx.tril(x);
  assert.equal(l.dtype, mx.int64);
  assert.deepEqual(l.tolist(), [[[1n, 0n], [3n, 4n]], [[5n, 0n], [7n, 8n]]]);
  assert.deepEqual(mx.triu(x, 1).tolist(), [[[0n, 2n], [0n, 0n]], [[0n, 6n], [0n, 0n]]]);
  assert.throws(() => mx.eye(2.5), /\[eye\] n must be a non-negative integer, got 2.5/);
  assert.throws(() => mx.tril(mx.zeros([3])), /\[tril\] the array must have at least 2 dimensions, got shape \(3,\)/);
});

test('meshgrid returns a JS array; xy swaps the first two axes', () => {
  const [X, Y] = mx.meshgrid([mx.array([1, 2, 3]), mx.array([4, 5])]);
  assert.deepEqual(X.shape, [2, 3]);
  assert.deepEqual(Y.tolist(), [[4, 4, 4], [5, 5, 5]]);
  const [I, J] = mx.meshgrid([mx.array([1, 2, 3]), mx.array([4, 5])], true, 'ij');
  assert.deepEqual(I.shape, [3, 1]);
  assert.deepEqual(J.shape, [1, 2]);
  assert.deepEqual(mx.meshgrid([]), []);
});
