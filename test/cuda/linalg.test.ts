// Factorizations on the GPU run through the host fallback (the CPU kernels on copies of
// the inputs, results copied back), so they equal the CPU's results and live on the GPU;
// view shares or normalizes bytes as on the CPU.
import { describe, test } from 'node:test';
import { skip, rand, check, mx } from './util.js';

const d = mx.dtypes;
const L = mx.linalg;

/** A well-conditioned symmetric positive definite batch: a @ a^T + n I. */
const spd = (a: mx.Array) => {
  const n = a.shape[a.ndim - 1];
  return mx.add(mx.matmul(a, mx.swapaxes(a, -1, -2)), mx.multiply(mx.eye(n, n, 0, d.float32, { stream: a.stream }), n));
};

describe('cuda: factorizations (host fallback) and view', { skip }, () => {
  test('inv, solve, solveTriangular, cholesky, qr, svd, eigh', () => {
    const a = { values: rand(2 * 5 * 5, 140), shape: [2, 5, 5], dtype: d.float32 };
    const b = { values: rand(2 * 5 * 3, 141), shape: [2, 5, 3], dtype: d.float32 };
    const r = { values: rand(4 * 6 * 3, 142), shape: [4, 6, 3], dtype: d.float32 };
    check('inv', [a], (x) => L.inv(spd(x)));
    check('solve', [a, b], (x, y) => L.solve(spd(x), y));
    check('solveTriangular', [a, b], (x, y) => L.solveTriangular(L.cholesky(spd(x)), y, false));
    check('cholesky upper', [a], (x) => L.cholesky(spd(x), true));
    check('qr q', [r], (x) => L.qr(x)[0]);
    check('qr r', [r], (x) => L.qr(x)[1]);
    check('svd values', [r], (x) => L.svd(x, false));
    check('svd u', [r], (x) => L.svd(x)[0]);
    check('eigh values', [a], (x) => L.eigh(spd(x))[0]);
    check('eigh vectors', [a], (x) => L.eigh(spd(x))[1]);
  });

  test('view', () => {
    const x = { values: rand(24, 143, -100, 100), shape: [2, 12], dtype: d.float32 };
    for (const to of [d.uint8, d.int16, d.float16, d.int32, d.uint32, d.int64, d.bool])
      check(`view float32 as ${to.name}`, [x], (a) => mx.view(a, to));
    check('view int8 as bool (normalized)', [{ values: rand(16, 144, -3, 3).map(Math.round), shape: [16], dtype: d.int8 }], (a) => mx.view(a, d.bool));
    check('view of a computed array', [x], (a) => mx.view(mx.negative(a), d.int32)); // exact on both backends
  });
});
