// fast.rmsNorm and fast.layerNorm: the CPU kernels against their references (values and
// gradients in float64, float32, float16, bfloat16) and against closed forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { DTYPES, randn, compareWithReference, assertClose, primitiveOf } from './helpers.js';

const EPS = 1e-5;

test('rmsNorm matches its reference, with and without weight, in every float dtype', () => {
  for (const dt of ['float64', ...DTYPES] as const) {
    const x = randn([3, 5, 48], dt), w = randn([48], dt);
    compareWithReference('rmsNorm', (x, w) => fast.rmsNorm(x, w, EPS), (x, w) => fast.reference.rmsNorm(x, w, EPS), [x, w], [0, 1], dt, 4);
    compareWithReference('rmsNorm (no weight)', (x) => fast.rmsNorm(x, null, EPS), (x) => fast.reference.rmsNorm(x, null, EPS), [x], [0], dt, 2);
  }
});

test('layerNorm matches its reference, with weight and bias, weight only, and neither', () => {
  for (const dt of ['float64', ...DTYPES] as const) {
    const x = randn([4, 40], dt, 3), w = randn([40], dt), b = randn([40], dt);
    compareWithReference('layerNorm', (x, w, b) => fast.layerNorm(x, w, b, EPS), (x, w, b) => fast.reference.layerNorm(x, w, b, EPS), [x, w, b], [0, 1, 2], dt, 4);
    compareWithReference('layerNorm (weight)', (x, w) => fast.layerNorm(x, w, null, EPS), (x, w) => fast.reference.layerNorm(x, w, null, EPS), [x, w], [0, 1], dt, 4);
    compareWithReference('layerNorm (bias)', (x, b) => fast.layerNorm(x, null, b, EPS), (x, b) => fast.reference.layerNorm(x, null, b, EPS), [x, b], [0, 1], dt, 4);
    compareWithReference('layerNorm (none)', (x) => fast.layerNorm(x, null, null, EPS), (x) => fast.reference.layerNorm(x, null, null, EPS), [x], [0], dt, 2);
  }
});

test('mixed dtypes promote as MLX: bfloat16 x with float32 weight gives float32', () => {
  const x = randn([2, 16], 'bfloat16'), w = randn([16], 'float32'), b = randn([16], 'float16');
  assert.equal(fast.rmsNorm(x, w, EPS).dtype, mx.float32);
  assert.equal(fast.layerNorm(x, null, b, EPS).dtype, mx.float32);
  compareWithReference('rmsNorm mixed', (x, w) => fast.rmsNorm(x, w, EPS), (x, w) => fast.reference.rmsNorm(x, w, EPS), [x, w], [0, 1], 'bfloat16', 2);
  compareWithReference('layerNorm mixed', (x, w, b) => fast.layerNorm(x, w, b, EPS), (x, w, b) => fast.reference.layerNorm(x, w, b, EPS), [x, w, b], [0, 1, 2], 'bfloat16', 2);
});

test('the ops run the fused kernels forward and backward on the CPU', () => {
  const x = randn([2, 8]), w = randn([8]);
  assert.equal(primitiveOf(fast.rmsNorm(x, w, EPS)), 'rmsNorm');
  assert.equal(primitiveOf(fast.layerNorm(x, w, w, EPS)), 'layerNorm');
  const [, [dx]] = mx.vjp((x: mx.Array) => fast.rmsNorm(x, w, EPS), [x], [x]);
  assert.equal(primitiveOf(dx), 'rmsNormVjp');
});

test('closed forms: constant rows, two-element rows, and gradients that must vanish', () => {
  // rmsNorm of a constant row c is c / sqrt(c² + eps) times the weight.
  const c = 0.75, w = mx.array([1, 2, -3, 0.5]);
  const y = fast.rmsNorm(mx.full([2, 4], c), w, EPS);
  assertClose(y, mx.broadcastTo(mx.multiply(w, c / Math.sqrt(c * c + EPS)), [2, 4]), { rtol: 1e-6, atol: 1e-7 }, 'constant row');
  // layerNorm of (a, b) is ±h / sqrt(h² + eps) with h = (a − b)/2.
  const [a, b] = [3, -1], h = (a - b) / 2, v = h / Math.sqrt(h * h + EPS);
  assertClose(fast.layerNorm(mx.array([[a, b]], 'float64'), null, null, EPS), mx.array([[v, -v]], 'float64'), { rtol: 1e-14, atol: 0 }, 'two elements');
  // A standardized row sums to 0 whatever x is, so d/dx sum(layerNorm(x)) = 0; scaling x leaves rmsNorm (eps = 0) unchanged.
  const x = randn([3, 10], 'float64');
  assertClose(mx.grad((x: mx.Array) => mx.sum(fast.layerNorm(x, null, null, EPS)))(x), mx.zeros([3, 10], 'float64'), { rtol: 0, atol: 1e-12 }, 'd sum(layerNorm)');
  const dir = mx.jvp((x: mx.Array) => fast.rmsNorm(x, null, 0), [x], [x])[1][0];
  assertClose(dir, mx.zeros([3, 10], 'float64'), { rtol: 0, atol: 1e-12 }, 'rmsNorm is scale invariant');
  // dweight of sum(rmsNorm) is the column sum of the normalized rows.
  const ones = mx.ones([10], 'float64');
  const dw = mx.grad((w: mx.Array) => mx.sum(fast.rmsNorm(x, w, EPS)))(ones);
  assertClose(dw, mx.sum(fast.rmsNorm(x, null, EPS), 0), { rtol: 1e-12, atol: 1e-12 }, 'dweight');
});

test('errors name the op, the shapes and the dtypes', () => {
  assert.throws(() => fast.rmsNorm(randn([2, 8]), randn([4]), EPS), /\[rmsNorm\] weight must have shape \(8,\) to match the last axis of x \(2,8\), got \(4,\)/);
  assert.throws(() => fast.layerNorm(mx.ones([2, 3], 'int32'), null, null, EPS), /\[layerNorm\] x must be floating point, got int32/);
  assert.throws(() => fast.rmsNorm(mx.array(1.5), null, EPS), /\[rmsNorm\] expected an input with at least one axis/);
});
