// nn.init: each initializer's statistics on large draws with fixed seeds, shapes and
// dtypes, fan computation for Linear and channels-last Conv weights, and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as nn from '../../src/nn/index.js';

const init = nn.init;
const stats = (a: mx.Array) => {
  const v = [...a.dataSync()].map(Number);
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
};
const near = (got: number, want: number, tol: number, what: string) => assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want} ± ${tol}`);

test('constant, normal, uniform: values, dtypes and statistics', () => {
  const z = mx.zeros([200, 300]);
  const c = init.constant(0.5, 'float16')(mx.zeros([2, 3]));
  assert.equal(c.dtype.name, 'float16');
  assert.deepEqual(c.tolist(), [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]);
  mx.random.seed(1);
  const n = stats(init.normal(2, 0.5)(z));
  near(n.mean, 2, 0.005, 'normal mean');
  near(n.std, 0.5, 0.005, 'normal std');
  const u = stats(init.uniform(-1, 3)(z));
  assert.ok(u.min >= -1 && u.max < 3 && u.min < -0.99 && u.max > 2.99);
  near(u.mean, 1, 0.01, 'uniform mean');
  near(u.std, 4 / Math.sqrt(12), 0.01, 'uniform std');
  assert.equal(init.uniform(0, 1, 'bfloat16')(z).dtype.name, 'bfloat16');
  // The global seed makes draws reproducible.
  mx.random.seed(7);
  const a = init.normal()(mx.zeros([4]));
  mx.random.seed(7);
  assert.deepEqual(init.normal()(mx.zeros([4])).tolist(), a.tolist());
});

test('identity', () => {
  assert.deepEqual(init.identity()(mx.zeros([3, 3])).tolist(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
  assert.throws(() => init.identity()(mx.zeros([2, 3])), /\[init.identity\] expected a square matrix, got shape \(2,3\)/);
});

test('fans: Linear (out, in) and channels-last Conv (out, kernel..., in)', () => {
  assert.deepEqual(init.fanInFanOut('t', mx.zeros([30, 20])), [20, 30]);
  assert.deepEqual(init.fanInFanOut('t', mx.zeros([16, 3, 3, 8])), [72, 144]);
  assert.throws(() => init.glorotNormal()(mx.zeros([5])), /\[init.glorotNormal\] Glorot and He initialization need an array of at least 2 dimensions, got shape \(5,\)/);
  assert.throws(() => init.heNormal()(mx.zeros([5, 5]), 'fan_avg' as nn.init.FanMode), /mode must be 'fan_in' or 'fan_out', got 'fan_avg'/);
});

test('Glorot and He: standard deviations and limits from the fans, times gain', () => {
  mx.random.seed(2);
  const w = mx.zeros([400, 200]); // fan_in 200, fan_out 400
  near(stats(init.glorotNormal()(w)).std, Math.sqrt(2 / 600), 0.001, 'glorotNormal std');
  near(stats(init.glorotNormal()(w, 3)).std, 3 * Math.sqrt(2 / 600), 0.003, 'glorotNormal gain 3');
  const gu = stats(init.glorotUniform()(w));
  const limit = Math.sqrt(6 / 600);
  assert.ok(gu.max < limit && gu.min >= -limit && gu.max > 0.99 * limit);
  near(gu.std, limit / Math.sqrt(3), 0.001, 'glorotUniform std');
  near(stats(init.heNormal()(w)).std, 1 / Math.sqrt(200), 0.001, 'heNormal fan_in');
  near(stats(init.heNormal()(w, 'fan_out', 2)).std, 2 / Math.sqrt(400), 0.001, 'heNormal fan_out gain 2');
  const hu = stats(init.heUniform()(mx.zeros([64, 3, 3, 32]), 'fan_in'));
  const hl = Math.sqrt(3 / (32 * 9));
  assert.ok(hu.max < hl && hu.min >= -hl && hu.max > 0.99 * hl, 'heUniform limit on a conv weight');
});

test('orthogonal: orthonormal rows or columns, signs fixed by R, gain', () => {
  mx.random.seed(3);
  const eye = (n: number) => mx.eye(n);
  const tall = init.orthogonal()(mx.zeros([6, 4]));
  assert.ok(mx.allclose(mx.matmul(mx.transpose(tall), tall), eye(4), 1e-5, 1e-5).item(), 'columns orthonormal');
  const wide = init.orthogonal(2)(mx.zeros([3, 5]));
  assert.ok(mx.allclose(mx.matmul(wide, mx.transpose(wide)), mx.multiply(eye(3), 4), 1e-5, 1e-5).item(), 'rows orthogonal, norm gain');
  assert.throws(() => init.orthogonal()(mx.zeros([2, 2, 2])), /\[init.orthogonal\] only 2-D arrays are supported/);
});

test('sparse: ceil(sparsity * cols) zeros in every row, normal elsewhere', () => {
  mx.random.seed(4);
  const s = init.sparse(0.25, 1, 0.1)(mx.zeros([50, 8]));
  const rows = s.tolist() as number[][];
  for (const r of rows) assert.equal(r.filter((v) => v === 0).length, 2);
  const nz = rows.flat().filter((v) => v !== 0);
  near(nz.reduce((a, b) => a + b, 0) / nz.length, 1, 0.02, 'nonzero mean');
  assert.equal((init.sparse(0)(mx.zeros([3, 4])).tolist() as number[][]).flat().filter((v) => v === 0).length, 0);
  assert.throws(() => init.sparse(0.5)(mx.zeros([4])), /\[init.sparse\] only 2-D arrays are supported/);
});

test('initializers apply to a model through Module.apply', () => {
  const model = new nn.Sequential(new nn.Linear(4, 3), new nn.Linear(3, 2));
  model.apply(init.constant(0.25));
  for (const [, v] of Object.entries(model.parameters().layers as unknown as Record<string, Record<string, mx.Array>>))
    for (const a of Object.values(v)) assert.ok(mx.all(mx.equal(a, 0.25)).item());
});
