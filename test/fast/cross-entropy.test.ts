// fast.crossEntropy: the chunked CPU kernel against its reference (values and gradients,
// every reduction, label smoothing, ignored rows), closed forms, and peak memory on a
// (512, 32000) vocabulary against the reference under autodiff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { DTYPES, randn, randint, compareWithReference, assertClose, primitiveOf } from './helpers.js';

test('crossEntropy matches its reference over two vocabulary chunks, every reduction, in every float dtype', () => {
  const options = [{ labelSmoothing: 0.1 }, {}, { reduction: 'none' as const }, { reduction: 'sum' as const, labelSmoothing: 0.2 }];
  for (const dt of ['float64', ...DTYPES] as const) {
    const z = randn([2, 3, 5000], dt, 3); // 5000 classes: two chunks of 4096
    const t = mx.where(mx.equal(randint(0, 3, [2, 3]), 0), -100, randint(0, 5000, [2, 3]));
    for (const o of dt === 'float32' ? options : options.slice(0, 1)) {
      compareWithReference(`crossEntropy ${JSON.stringify(o)}`, (z) => fast.crossEntropy(z, t, o), (z) => fast.reference.crossEntropy(z, t, o), [z], [0], dt);
    }
  }
});

test('the losses are float32 and the logits gradient keeps the logits dtype, through the fused kernels', () => {
  const z = randn([4, 50], 'bfloat16'), t = randint(0, 50, [4]);
  const [loss, g] = mx.valueAndGrad((z: mx.Array) => fast.crossEntropy(z, t))(z);
  assert.equal(loss.dtype, mx.float32);
  assert.equal(g.dtype, mx.bfloat16);
  const rows = fast.crossEntropy(z, t, { reduction: 'none' });
  assert.equal(primitiveOf(rows), 'crossEntropy');
  assert.equal(primitiveOf(mx.vjp((z: mx.Array) => fast.crossEntropy(z, t), [z], [mx.array(1)])[1][0]), 'crossEntropyVjp');
});

test('closed forms: uniform logits, label smoothing, ignored rows, and softmax − onehot', () => {
  const V = 1000, z = mx.zeros([3, V], 'float64'), t = mx.array([5, -100, 7]);
  assertClose(fast.crossEntropy(z, t, { reduction: 'none' }), mx.array([Math.log(V), 0, Math.log(V)], 'float64'), { rtol: 1e-14, atol: 0 }, 'uniform');
  assertClose(fast.crossEntropy(z, t), mx.array(Math.log(V), 'float64'), { rtol: 1e-14, atol: 0 }, 'mean skips ignored rows');
  assert.equal(fast.crossEntropy(z, mx.array([-100, -100, -100])).item(), 0, 'an all-ignored batch has mean 0');
  // One logit a above zeros: lse = log(e^a + V − 1); smoothing s adds s·(lse − mean(z)) − s·(lse − z_t)...
  const a = 2, s = 0.1, row = mx.array([[a, 0, 0, 0]], 'float64');
  const lse = Math.log(Math.exp(a) + 3);
  assertClose(fast.crossEntropy(row, mx.array([0]), { labelSmoothing: s }), mx.array(lse - (1 - s) * a - (s * a) / 4, 'float64'), { rtol: 1e-14, atol: 0 }, 'smoothing');
  const g = mx.grad((z: mx.Array) => fast.crossEntropy(z, mx.array([1]), { reduction: 'sum' }))(row);
  const p = [Math.exp(a), 1, 1, 1].map((e) => e / (Math.exp(a) + 3));
  assertClose(g, mx.array([[p[0], p[1] - 1, p[2], p[3]]], 'float64'), { rtol: 1e-14, atol: 1e-15 }, 'softmax − onehot');
});

/** Peak bytes above what was live before, for the loss and gradient of `f` at z. */
function peakOfStep(f: typeof fast.crossEntropy, z: mx.Array, t: mx.Array): number {
  mx.clearCache();
  const base = mx.getActiveMemory();
  mx.resetPeakMemory();
  const [l, g] = mx.valueAndGrad((z: mx.Array) => f(z, t))(z);
  mx.eval(l, g);
  const peak = mx.getPeakMemory() - base;
  assert.ok(Number.isFinite(l.item() as number));
  mx.dispose(l, g);
  return peak;
}

test('peak memory on (512, 32000): one gradient of the logits, against the reference\'s (N, V) float32 intermediates', () => {
  // 8 random rows tiled to 512: cheap to make, and every row still spans the whole vocabulary.
  const z = mx.tile(randn([8, 32000], 'float32', 3), [64, 1]), t = randint(0, 32000, [512]);
  mx.eval(z, t);
  const fused = peakOfStep(fast.crossEntropy, z, t), reference = peakOfStep(fast.reference.crossEntropy, z, t);
  assert.ok(fused < z.nbytes * 1.05, `fused peak ${fused} bytes should be one float32 gradient (${z.nbytes})`);
  assert.ok(reference > 2.5 * fused, `reference peak ${reference} bytes vs fused ${fused}`);
});

test('bfloat16 logits: the gradient stays bfloat16, with no float32 copy of the logits', () => {
  const z = randn([64, 32000], 'bfloat16', 3), t = randint(0, 32000, [64]);
  mx.eval(z, t);
  const fused = peakOfStep(fast.crossEntropy, z, t), reference = peakOfStep(fast.reference.crossEntropy, z, t);
  assert.ok(fused < z.nbytes * 1.05, `fused peak ${fused} bytes should be one bfloat16 gradient (${z.nbytes})`);
  assert.ok(reference > 5 * fused, `reference peak ${reference} bytes vs fused ${fused}`);
});

test('errors: target shape and dtype, smoothing, reduction, out-of-range targets', () => {
  const z = randn([2, 5]);
  assert.throws(() => fast.crossEntropy(z, mx.array([1, 2, 3])), /\[crossEntropy\] targets \(3,\) must be the logits' shape \(2,5\) without its last \(class\) axis/);
  assert.throws(() => fast.crossEntropy(z, mx.array([1.5, 2])), /targets must be integer class indices, got float32/);
  assert.throws(() => fast.crossEntropy(z, mx.array([1, 2]), { labelSmoothing: 1 }), /labelSmoothing must be in \[0, 1\)/);
  assert.throws(() => fast.crossEntropy(z, mx.array([1, 2]), { reduction: 'avg' as 'mean' }), /reduction must be 'none', 'mean' or 'sum'/);
  assert.throws(() => fast.crossEntropy(z, mx.array([1, 7])).item(), /target 7 of row 1 is outside the vocabulary \[0, 5\)/);
});
