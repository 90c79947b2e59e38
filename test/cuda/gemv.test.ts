// The float GEMV (src/backend/cuda/kernels/gemv.ts) behind matmul for x @ w.T with up to 4
// rows of x, against the CPU: every row count, short, long and odd-length rows (K = 5000),
// N from 1 to the Llama-3 vocabulary, each float dtype, a batch of x sharing the weight; and
// the products that must stay on cuBLAS.
//
// Tolerances, |GPU - CPU| <= atol + rtol·|CPU|: halves rtol 1e-2 (a rounding of the result
// may flip between float32 sums taken in another order: 1 ulp of bf16 is 2^-8), atol 1e-3;
// float32 rtol 1e-4, atol 2e-5·√K (summation order).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, pair, assertMatches, mx } from './util.js';
import { gemvLaunches, gemvTuning } from '../../src/backend/cuda/kernels/gemv.js';

const d = mx.dtypes;
const tolFor = (dt: mx.DType, K: number) => (dt === d.float32 ? { rtol: 1e-4, atol: 2e-5 * Math.sqrt(K) } : { rtol: 1e-2, atol: 1e-3 });

/** x (xShape) @ w.T with w (N, K) on both devices; returns the GEMV launches it took. */
function compare(xShape: number[], N: number, dt: mx.DType, seed: number): number {
  const K = xShape[xShape.length - 1];
  const x = pair(rand(xShape.reduce((a, b) => a * b, 1), seed), xShape, dt);
  const w = pair(rand(N * K, seed + 1), [N, K], dt);
  const before = gemvLaunches.count;
  const got = mx.matmul(x.gpu, mx.transpose(w.gpu));
  mx.eval(got);
  const ran = gemvLaunches.count - before;
  assertMatches(got, mx.matmul(x.cpu, mx.transpose(w.cpu)), `${dt.name} x (${xShape}) @ w.T, w (${N}, ${K})`, tolFor(dt, K));
  return ran;
}

describe('cuda: float GEMV (matmul with few rows of x)', { skip }, () => {
  test('every M, K and dtype at N = 1 and 512', () => {
    let seed = 700;
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const M of [1, 2, 3, 4]) for (const K of [64, 2048, 8192, 5000]) for (const N of [1, 512])
      assert.equal(compare([M, K], N, dt, seed++), 1, `the GEMV ran for ${dt.name} M ${M} K ${K} N ${N}`);
  });

  test('model shapes: N = 2048, 8192 and the 128256 vocabulary (short rows: host memory)', () => {
    let seed = 800;
    const cases: [number, number, number, mx.DType][] = [
      [1, 2048, 2048, d.bfloat16], [2, 2048, 8192, d.bfloat16], [1, 8192, 2048, d.bfloat16], [4, 8192, 2048, d.float16],
      [3, 2048, 8192, d.float32], [1, 5000, 2048, d.float16], [1, 256, 128256, d.bfloat16], [4, 64, 128256, d.float32], [2, 128, 128256, d.float16],
    ];
    for (const [M, K, N, dt] of cases) assert.equal(compare([M, K], N, dt, seed++), 1, `the GEMV ran for ${dt.name} M ${M} K ${K} N ${N}`);
  });

  test('a batch of x (B, 1, K) sharing the weight folds into rows', () => {
    let seed = 900;
    for (const dt of [d.bfloat16, d.float32]) for (const B of [2, 4]) assert.equal(compare([B, 1, 2048], 512, dt, seed++), 1);
    assert.equal(compare([2, 2, 256], 300, d.float16, seed++), 1, '(2, 2, K): 4 rows');
    assert.equal(compare([1, 3, 1024], 777, d.bfloat16, seed++), 1, 'a leading batch of 1');
  });

  test('cuBLAS keeps everything else', () => {
    let seed = 1000;
    assert.equal(compare([5, 256], 64, d.bfloat16, seed++), 0, 'M = 5');
    assert.equal(compare([3, 2, 256], 64, d.float32, seed++), 0, 'batch folding to 6 rows');
    assert.equal(compare([1, 5001], 64, d.bfloat16, seed++), 0, 'K not a whole number of 16-byte chunks');
    assert.equal(compare([1, 130], 33, d.float32, seed++), 0, 'K = 130 floats (not a multiple of 4)');
    // x @ w with w (K, N): not the Linear layout
    const x = pair(rand(256, seed), [1, 256], d.bfloat16), w = pair(rand(256 * 64, seed + 1), [256, 64], d.bfloat16);
    const before = gemvLaunches.count;
    assertMatches(mx.matmul(x.gpu, w.gpu), mx.matmul(x.cpu, w.cpu), 'x @ w, w (K, N)', tolFor(d.bfloat16, 256));
    assert.equal(gemvLaunches.count, before, 'w (K, N) goes to cuBLAS');
    // a batched weight (not shared) stays on cuBLAS
    const xb = pair(rand(2 * 128, seed + 2), [2, 1, 128], d.float16), wb = pair(rand(2 * 32 * 128, seed + 3), [2, 32, 128], d.float16);
    assertMatches(mx.matmul(xb.gpu, mx.swapaxes(wb.gpu, -1, -2)), mx.matmul(xb.cpu, mx.swapaxes(wb.cpu, -1, -2)), 'batched weight', tolFor(d.float16, 128));
    assert.equal(gemvLaunches.count, before, 'a batched weight goes to cuBLAS');
  });

  test('LATHE_CUDA_GEMV=0 (gemvTuning.enabled false) sends the product to cuBLAS with the same result', () => {
    const was = gemvTuning.enabled;
    gemvTuning.enabled = false;
    try { assert.equal(compare([1, 2048], 512, d.bfloat16, 1100), 0); } finally { gemvTuning.enabled = was; }
  });

  test('tuning overrides: every team size gives the same products', () => {
    const was = { ...gemvTuning };
    try {
      let seed = 1200;
      for (const team of [1, 4, 16, 64, 256]) for (const unroll of [2, 8]) {
        Object.assign(gemvTuning, { team, unroll });
        assert.equal(compare([2, 4096], 100, d.bfloat16, seed++), 1, `team ${team} unroll ${unroll}`);
        assert.equal(compare([1, 72], 33, d.float32, seed++), 1, `team ${team} unroll ${unroll}, short rows`);
      }
    } finally { Object.assign(gemvTuning, was); }
  });
});
