// fast.swiglu and fast.geglu: the fused CPU kernels against their references (values and
// both gradients, four dtypes), closed forms, and broadcasting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { DTYPES, randn, compareWithReference, assertClose, primitiveOf } from './helpers.js';

test('swiglu and geglu (exact and tanh) match their references in every float dtype', () => {
  for (const dt of ['float64', ...DTYPES] as const) {
    const gate = randn([3, 700], dt, 3), up = randn([3, 700], dt);
    compareWithReference('swiglu', (a, b) => fast.swiglu(a, b), (a, b) => fast.reference.swiglu(a, b), [gate, up], [0, 1], dt);
    compareWithReference('geglu', (a, b) => fast.geglu(a, b), (a, b) => fast.reference.geglu(a, b), [gate, up], [0, 1], dt);
    compareWithReference('geglu tanh', (a, b) => fast.geglu(a, b, { approximate: 'tanh' }), (a, b) => fast.reference.geglu(a, b, 'tanh'), [gate, up], [0, 1], dt);
  }
});

test('closed forms: silu(0) = 0 with slope 1/2, gelu → identity for large inputs, Φ(0) = 1/2', () => {
  const up = mx.array([1.5, -2, 3], 'float64');
  const zero = mx.zeros([3], 'float64');
  assertClose(fast.swiglu(zero, up), zero, { rtol: 0, atol: 0 }, 'swiglu(0)');
  const [dGate, dUp] = mx.grad((g: mx.Array, u: mx.Array) => mx.sum(fast.swiglu(g, u)), [0, 1])(zero, up) as mx.Array[];
  assertClose(dGate, mx.multiply(up, 0.5), { rtol: 1e-15, atol: 0 }, 'silu′(0) = 1/2');
  assertClose(dUp, zero, { rtol: 0, atol: 0 }, 'd up at gate 0');
  const big = mx.array([8, 9, 10], 'float64');
  assertClose(fast.geglu(big, mx.ones([3], 'float64')), big, { rtol: 1e-12, atol: 0 }, 'gelu(x) ≈ x');
  const g0 = mx.grad((g: mx.Array) => mx.sum(fast.geglu(g, up)))(zero);
  assertClose(g0, mx.multiply(up, 0.5), { rtol: 1e-15, atol: 0 }, 'gelu′(0) = Φ(0) = 1/2');
  // silu(x) = x σ(x) at x = ln 3: σ = 3/4.
  assertClose(fast.swiglu(mx.array([Math.log(3)], 'float64'), mx.array([2], 'float64')), mx.array([2 * Math.log(3) * 0.75], 'float64'), { rtol: 1e-15, atol: 0 }, 'silu(ln 3)');
});

test('the kernels run forward and backward; gate and up broadcast and promote', () => {
  const gate = randn([2, 3, 4]), up = randn([4], 'bfloat16');
  const y = fast.swiglu(gate, up);
  assert.equal(primitiveOf(y), 'swiglu');
  assert.deepEqual(y.shape, [2, 3, 4]);
  assert.equal(y.dtype, mx.float32);
  assertClose(y, fast.reference.swiglu(gate, up), { rtol: 1e-6, atol: 1e-6 }, 'broadcast');
  const [, [dg]] = mx.vjp((g: mx.Array) => fast.geglu(g, up), [gate], [y]);
  assert.equal(primitiveOf(dg), 'gegluVjp');
  assert.throws(() => fast.swiglu(randn([2, 3]), randn([4])), /\[swiglu\] shapes \(2,3\) and \(4,\) cannot be broadcast together/);
  assert.throws(() => fast.geglu(randn([2]), randn([2]), { approximate: 'fast' as 'tanh' }), /\[geglu\] approximate must be 'none' or 'tanh'/);
});
