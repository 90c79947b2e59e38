// Scans beyond the NumPy goldens: the row-accumulating path on long inputs, the gradient
// rules where finite differences cannot reach (ties, zeros) checked against their exact
// values, and gradient and vmap checks over every reverse/inclusive combination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { Case, checkGradients, checkVmap, rng } from '../transforms/check.js';

const r = rng(9);
const grad1 = (f: (x: mx.Array) => mx.Array, x: mx.Array) => (mx.grad(f)(x) as mx.Array).tolist();
const FLAGS = [[false, true], [true, true], [false, false], [true, false]] as const;

test('scans along the first axis of a wide array match a loop', () => {
  const rows = 37, cols = 513;
  const v = Float64Array.from({ length: rows * cols }, () => r() * 2 - 1);
  const x = mx.reshape(mx.array(v), [rows, cols]);
  for (const [reverse, inclusive] of FLAGS) {
    const got = mx.cumsum(x, 0, reverse, inclusive).dataSync();
    for (const j of [0, 100, 512]) {
      let acc = 0;
      for (let t = 0; t < rows; t++) {
        const i = reverse ? rows - 1 - t : t;
        if (inclusive) acc += v[i * cols + j];
        assert.ok(Math.abs(got[i * cols + j] - acc) < 1e-12, `reverse ${reverse} inclusive ${inclusive} at (${i},${j})`);
        if (!inclusive) acc += v[i * cols + j];
      }
    }
  }
});

test('dtypes: cumsum of bool is int32, integer scans wrap in their dtype, logcumsumexp of ints is float32', () => {
  assert.equal(mx.cumsum(mx.array([true, true, false])).dtype, mx.int32);
  assert.deepEqual(mx.cumsum(mx.array([true, true, false])).tolist(), [1, 2, 2]);
  assert.deepEqual(mx.cumsum(mx.array([200, 100], 'uint8')).tolist(), [200, 44]);
  assert.deepEqual(mx.cumprod(mx.array([1n << 40n, 1n << 30n], 'int64')).tolist(), [1n << 40n, BigInt.asIntN(64, 1n << 70n)]);
  assert.equal(mx.logcumsumexp(mx.array([1, 2])).dtype, mx.float32);
  assert.equal(mx.cummax(mx.array([1, 2], 'float16')).dtype, mx.float16);
});

test('axis: none flattens, negative counts from the end, 0-d needs no axis', () => {
  const x = mx.array([[1, 2], [3, 4]]);
  assert.deepEqual(mx.cumsum(x).tolist(), [1, 3, 6, 10]);
  assert.deepEqual(mx.cumsum(x, -2).tolist(), [[1, 2], [4, 6]]);
  assert.deepEqual(mx.cumprod(mx.array(5)).tolist(), [5]);
  assert.throws(() => mx.cummin(x, 2), /^Error: \[cummin\] axis 2 is out of bounds for an array of dimension 2/);
});

test('cummax/cummin gradients go to the first position holding each running extremum', () => {
  const w = mx.array([1, 10, 100, 1000], 'float64');
  const x = mx.array([1, 3, 3, 2], 'float64');
  assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cummax(a), w)), x), [1, 1110, 0, 0]);
  // reverse: y = [3, 3, 3, 2]; scanning from the end, 2 then the last 3 are records
  assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cummax(a, 0, true), w)), x), [0, 0, 111, 1000]);
  // exclusive: y = [-inf, 1, 3, 3]; the identity gets no gradient
  assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cummax(a, 0, false, false), w)), x), [10, 1100, 0, 0]);
  assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cummin(a), w)), mx.array([2, 1, 1, 3], 'float64')), [1, 1110, 0, 0]);
  // a NaN becomes the running max from where it appears
  assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cummax(a), w)), mx.array([1, NaN, 5, 0], 'float64')), [1, 1110, 0, 0]);
});

test('cumprod gradients are exact with zeros', () => {
  const w = mx.array([1, 10, 100, 1000, 10000], 'float64');
  const values = [2, 0, 3, 0, 5];
  // d/dx_i sum_j w_j prod_{k<=j} x_k, worked out by hand for each flag combination.
  const manual = (reverse: boolean, inclusive: boolean): number[] => {
    const n = values.length, g = new Array(n).fill(0);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      const inScan = (k: number) => (reverse ? (inclusive ? k >= j : k > j) : inclusive ? k <= j : k < j);
      if (!inScan(i)) continue;
      let p = 1;
      for (let k = 0; k < n; k++) if (k !== i && inScan(k)) p *= values[k];
      g[i] += w.dataSync()[j] * p;
    }
    return g;
  };
  for (const [reverse, inclusive] of FLAGS)
    assert.deepEqual(grad1((a) => mx.sum(mx.multiply(mx.cumprod(a, 0, reverse, inclusive), w)), mx.array(values, 'float64')), manual(reverse, inclusive), `reverse ${reverse} inclusive ${inclusive}`);
});

const f64 = (shape: number[], values?: number[]) => ({ shape, values });
for (const [reverse, inclusive] of FLAGS) {
  const flags = `reverse ${reverse}, inclusive ${inclusive}`;
  const cases: [string, Case][] = [
    ['cumsum', { fn: (x) => mx.cumsum(x, 1, reverse, inclusive), inputs: [f64([2, 4])] }],
    ['cumprod', { fn: (x) => mx.cumprod(x, 0, reverse, inclusive), inputs: [f64([4, 2], [1.5, -0.5, 0.7, 1.2, -1.1, 0.9, 1.3, 2])] }],
    ['cumprod with zeros', { fn: (x) => mx.cumprod(x, 1, reverse, inclusive), inputs: [f64([2, 4], [1.5, 0, 0.7, 0, 0, -1.1, 0.9, 1.3])] }],
    ['cummax', { fn: (x) => mx.cummax(x, 1, reverse, inclusive), inputs: [f64([2, 5])] }],
    ['cummin', { fn: (x) => mx.cummin(x, 0, reverse, inclusive), inputs: [f64([5, 2])] }],
    ['logcumsumexp', { fn: (x) => mx.logcumsumexp(x, 1, reverse, inclusive), inputs: [f64([2, 4])] }],
  ];
  test(`gradients and vmap, ${flags}`, () => {
    for (const [name, c] of cases) {
      checkGradients(c, 11, `${name}, ${flags}`);
      for (const ax of [0, -1]) checkVmap(c, 5, `${name}, ${flags}, in axis ${ax}`, [ax], 0);
    }
  });
}

test('logcumsumexp gradients stay finite for large inputs', () => {
  const g = mx.grad((a: mx.Array) => mx.sum(mx.logcumsumexp(a)))(mx.array([1000, 1001, 999], 'float64')) as mx.Array;
  const e = [Math.exp(-1), 1, Math.exp(-2)], s2 = e[0] + e[1], s3 = s2 + e[2];
  const want = [1 + e[0] / s2 + e[0] / s3, e[1] / s2 + e[1] / s3, e[2] / s3];
  (g.tolist() as number[]).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `element ${i}: ${v} vs ${want[i]}`));
});
