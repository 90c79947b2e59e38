// Activations (functions and layers) against NumPy references and closed forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';
import { fixture, dec, assertClose } from './fixture.js';

type Fn = (x: mx.Array) => mx.Array;
/** Fixture name ('elu:0.5' carries an argument) -> the function and the equivalent layer. */
const table: Record<string, [Fn, { forward(x: mx.Array): mx.Array } & nn.Module]> = {
  sigmoid: [nn.sigmoid, new nn.Sigmoid()],
  relu: [nn.relu, new nn.ReLU()],
  leakyRelu: [(x) => nn.leakyRelu(x), new nn.LeakyReLU()],
  'leakyRelu:0.2': [(x) => nn.leakyRelu(x, 0.2), new nn.LeakyReLU(0.2)],
  logSoftmax: [(x) => nn.logSoftmax(x), new nn.LogSoftmax()],
  elu: [(x) => nn.elu(x), new nn.ELU()],
  'elu:0.5': [(x) => nn.elu(x, 0.5), new nn.ELU(0.5)],
  relu6: [nn.relu6, new nn.ReLU6()],
  softmax: [(x) => nn.softmax(x), new nn.Softmax()],
  softplus: [nn.softplus, new nn.Softplus()],
  softsign: [nn.softsign, new nn.Softsign()],
  softshrink: [(x) => nn.softshrink(x), new nn.Softshrink()],
  celu: [(x) => nn.celu(x), new nn.CELU()],
  'celu:1.5': [(x) => nn.celu(x, 1.5), new nn.CELU(1.5)],
  silu: [nn.silu, new nn.SiLU()],
  logSigmoid: [nn.logSigmoid, new nn.LogSigmoid()],
  gelu: [nn.gelu, new nn.GELU()],
  geluApprox: [nn.geluApprox, new nn.GELU('tanh')],
  geluFastApprox: [nn.geluFastApprox, new nn.GELU('fast')],
  glu: [(x) => nn.glu(x), new nn.GLU()],
  step: [(x) => nn.step(x), new nn.Step()],
  selu: [nn.selu, new nn.SELU()],
  mish: [nn.mish, new nn.Mish()],
  hardswish: [nn.hardswish, new nn.Hardswish()],
  hardTanh: [(x) => nn.hardTanh(x), new nn.HardTanh()],
  hardShrink: [(x) => nn.hardShrink(x), new nn.HardShrink()],
  softmin: [(x) => nn.softmin(x), new nn.Softmin()],
  tanh: [nn.tanh, new nn.Tanh()],
};

test('every activation function and layer matches its NumPy reference', () => {
  const seen = new Set<string>();
  for (const c of fixture.activations) {
    const entry = table[c.name];
    assert.ok(entry, `no table entry for fixture activation ${c.name}`);
    seen.add(c.name);
    const [fn, layer] = entry;
    const x = dec(c.x);
    assertClose(fn(x), c.out, `${c.name} (${c.x.shape})`, 2e-5, 2e-6);
    assertClose(layer.forward(x), c.out, `${layer.constructor.name} layer (${c.x.shape})`, 2e-5, 2e-6);
  }
  assert.deepEqual([...seen].sort(), Object.keys(table).sort(), 'every activation has a fixture');
});

test('activations keep float16 and bfloat16 inputs in their dtype', () => {
  for (const dt of ['float16', 'bfloat16'] as const) {
    const x = mx.array([-2, -0.5, 0, 0.5, 2, 3], dt);
    for (const [name, [fn]] of Object.entries(table)) {
      if (name === 'step') continue;
      assert.equal(fn(x).dtype.name, dt, `${name} on ${dt}`);
    }
  }
  assert.equal(nn.step(mx.array([1.5, -1])).dtype.name, 'int32');
});

test('geluApprox and geluFastApprox stay within their known error on [-6, 6]', () => {
  const x = mx.linspace(-6, 6, 2001, 'float64');
  const exact = nn.gelu(x);
  const err = (f: Fn) => mx.max(mx.abs(mx.subtract(f(x), exact))).item() as number;
  assert.ok(err(nn.geluApprox) < 5e-4, `geluApprox error ${err(nn.geluApprox)}`);
  // MLX's docs say < 0.015; x σ(1.702 x) is in fact off by up to 0.0203 (near x = ±2.3).
  assert.ok(err(nn.geluFastApprox) < 0.021, `geluFastApprox error ${err(nn.geluFastApprox)}`);
});

test('gradients of activations match their closed forms', () => {
  const xs = [-2.5, -0.7, 0.3, 1.9];
  const x = mx.array(xs, 'float64');
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cases: [string, Fn, (v: number) => number][] = [
    ['silu', nn.silu, (v) => sig(v) * (1 + v * (1 - sig(v)))],
    ['softplus', nn.softplus, sig],
    ['logSigmoid', nn.logSigmoid, (v) => 1 - sig(v)],
    ['gelu', nn.gelu, (v) => 0.5 * (1 + erfJs(v / Math.SQRT2)) + v * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI)],
    ['elu', (a) => nn.elu(a), (v) => (v > 0 ? 1 : Math.exp(v))],
    ['leakyRelu', (a) => nn.leakyRelu(a), (v) => (v > 0 ? 1 : 0.01)],
    ['softsign', nn.softsign, (v) => 1 / (1 + Math.abs(v)) ** 2],
  ];
  for (const [name, f, d] of cases) {
    const g = mx.grad((a: mx.Array) => mx.sum(f(a)))(x).dataSync();
    xs.forEach((v, i) => assert.ok(Math.abs(Number(g[i]) - d(v)) < 1e-6, `${name}'(${v}): expected ${d(v)}, got ${g[i]}`));
  }
});

test('PReLU learns its slope; GELU and glu reject bad arguments', () => {
  const p = new nn.PReLU(1, 0.25);
  const g = nn.valueAndGrad(p, (x: mx.Array) => mx.sum(p.forward(x)))(mx.array([-2, 3, -1]))[1];
  assert.deepEqual((g.weight as mx.Array).tolist(), [-3]);
  assert.throws(() => new nn.GELU('exact' as never), /\[GELU\] approx must be/);
  assert.throws(() => nn.glu(mx.zeros([2, 3])), /\[glu\] the size of axis -1 must be even/);
});

/** erf by Abramowitz–Stegun 7.1.26 is too coarse here; use the series / continued fraction via Math. */
function erfJs(x: number): number {
  // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)), converges fast for |x| < 3.
  let sum = 0, term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= -x * x / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
