// quantizedMatmul on the GPU against the CPU kernel: the GEMV kernels (M <= 4 at 4 and 8
// bits, both layouts, split-K, batched and broadcast weights), the dequantize + cuBLAS
// path (larger M, other bit widths), and gradients through them.
//
// Tolerances, |GPU - CPU| <= atol + rtol·|CPU| with K the contraction length: float32
// rtol 1e-4, atol 2e-5·√K (the GEMV sums s·(x·q) + b·Σx per group while the CPU sums
// x·(s·q + b), so roundings differ by a few ulps of the partial sums); float16 rtol 4e-3,
// atol 2e-3·√K and bfloat16 rtol 2e-2, atol 1e-2·√K (the GEMM path rounds the dequantized
// weight to x's dtype, as MLX does, where the CPU keeps it in float32).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, pair, assertMatches, mx } from './util.js';
import { qmvLaunches } from '../../src/backend/cuda/kernels/fast/quantized-gemv.js';

const d = mx.dtypes;
const tolFor = (dt: mx.DType, k: number) => {
  const r = Math.sqrt(k);
  return dt === d.float32 ? { rtol: 1e-4, atol: 2e-5 * r } : dt === d.float16 ? { rtol: 4e-3, atol: 2e-3 * r } : { rtol: 2e-2, atol: 1e-2 * r };
};

interface Case { bits: number; groupSize: number; transpose: boolean; M: number; N: number; K: number; dt: mx.DType; xBatch?: number[]; wBatch?: number[] }

/** Quantizes the same weight on both devices and compares x @ W(^T). */
function compare(c: Case, seed: number): void {
  const { bits, groupSize, transpose, M, N, K, dt } = c;
  const wb = c.wBatch ?? [], xb = c.xBatch ?? [];
  const wShape = [...wb, ...(transpose ? [N, K] : [K, N])];
  const w = pair(rand(wShape.reduce((a, b) => a * b, 1), seed), wShape, dt);
  const [qg, sg, bg] = mx.quantize(w.gpu, groupSize, bits), [qc, sc, bc] = mx.quantize(w.cpu, groupSize, bits);
  const xShape = [...xb, M, K];
  const x = pair(rand(xShape.reduce((a, b) => a * b, 1), seed + 1), xShape, dt);
  const where = `${dt.name} bits ${bits} group ${groupSize} transpose ${transpose} x (${xShape}) w (${wShape})`;
  assertMatches(mx.quantizedMatmul(x.gpu, qg, sg, bg, transpose, groupSize, bits), mx.quantizedMatmul(x.cpu, qc, sc, bc, transpose, groupSize, bits), where, tolFor(dt, K));
}

describe('cuda: quantizedMatmul', { skip }, () => {
  test('every bit width, group size, M, dtype and layout (odd N, odd K)', () => {
    let seed = 300;
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const bits of [4, 8]) for (const groupSize of [32, 64, 128]) for (const M of [1, 3, 8, 17, 512]) {
      compare({ bits, groupSize, transpose: true, M, N: 33, K: 256, dt }, seed++);
      compare({ bits, groupSize, transpose: false, M, N: 256, K: 77, dt }, seed++);
    }
  });

  test('the GEMV kernels run for M <= 4 at 4 and 8 bits, split-K where blocks are few', () => {
    const before = { ...qmvLaunches };
    compare({ bits: 4, groupSize: 64, transpose: true, M: 1, N: 65, K: 8192, dt: d.bfloat16 }, 400); // 32 lanes a row
    compare({ bits: 4, groupSize: 128, transpose: true, M: 1, N: 8000, K: 1024, dt: d.float16 }, 408); // 16 lanes a row
    compare({ bits: 8, groupSize: 128, transpose: true, M: 2, N: 300, K: 128, dt: d.float16 }, 401); // 8 lanes, 2 rows of x
    compare({ bits: 4, groupSize: 32, transpose: true, M: 4, N: 40, K: 96, dt: d.float32 }, 402);
    assert.equal(qmvLaunches.t - before.t, 4, 'the (N, K) GEMV ran for each');
    compare({ bits: 4, groupSize: 64, transpose: false, M: 1, N: 128, K: 1000, dt: d.bfloat16 }, 403);
    compare({ bits: 8, groupSize: 32, transpose: false, M: 3, N: 64, K: 2048, dt: d.float32 }, 404);
    assert.equal(qmvLaunches.n - before.n, 2, 'the (K, N) GEMV ran for each');
    assert.equal(qmvLaunches.splitK - before.splitK, 2, 'both split k over blocks');
    compare({ bits: 4, groupSize: 64, transpose: true, M: 5, N: 20, K: 128, dt: d.float32 }, 405);
    compare({ bits: 3, groupSize: 64, transpose: true, M: 1, N: 20, K: 128, dt: d.float32 }, 406);
    compare({ bits: 6, groupSize: 32, transpose: false, M: 2, N: 64, K: 50, dt: d.bfloat16 }, 407);
    assert.equal(qmvLaunches.t + qmvLaunches.n - before.t - before.n, 6, 'M > 4 and 3 or 6 bits take the dequantize + GEMM path');
  });

  test('batched and broadcast weights (quantized KV-cache attention shapes)', () => {
    for (const dt of [d.float32, d.bfloat16]) {
      compare({ bits: 4, groupSize: 32, transpose: true, M: 1, N: 40, K: 64, dt, xBatch: [1, 2, 3], wBatch: [1, 2, 1] }, 410);
      compare({ bits: 8, groupSize: 64, transpose: false, M: 1, N: 64, K: 40, dt, xBatch: [1, 2, 3], wBatch: [1, 2, 1] }, 411);
      compare({ bits: 4, groupSize: 64, transpose: true, M: 4, N: 24, K: 128, dt, xBatch: [3, 1], wBatch: [1, 2] }, 412);
      compare({ bits: 4, groupSize: 64, transpose: true, M: 40, N: 24, K: 128, dt, xBatch: [3, 1], wBatch: [1, 2] }, 413);
    }
    // x as a vector, and x with more leading dims than a 2-D weight (flattened into M).
    const w = pair(rand(48 * 128, 420), [48, 128], d.float32);
    const [qg, sg, bg] = mx.quantize(w.gpu, 64, 4), [qc, sc, bc] = mx.quantize(w.cpu, 64, 4);
    for (const xShape of [[128], [2, 3, 128]]) {
      const x = pair(rand(xShape.reduce((a, b) => a * b, 1), 421), xShape, d.float32);
      assertMatches(mx.quantizedMatmul(x.gpu, qg, sg, bg, true, 64, 4), mx.quantizedMatmul(x.cpu, qc, sc, bc, true, 64, 4), `x (${xShape})`, tolFor(d.float32, 128));
    }
  });

  test('gradients with respect to x, scales and biases', () => {
    for (const [transpose, M] of [[true, 1], [true, 40], [false, 3]] as const) for (const dt of [d.float32, d.bfloat16]) {
      const [N, K] = [64, 128];
      const w = pair(rand(N * K, 430), transpose ? [N, K] : [K, N], dt);
      const [qg, sg, bg] = mx.quantize(w.gpu, 32, 4), [qc, sc, bc] = mx.quantize(w.cpu, 32, 4);
      const x = pair(rand(M * K, 431), [M, K], dt);
      const r = pair(rand(M * N, 432), [M, N], d.float32);
      const loss = (rr: mx.Array, q: mx.Array) => (xx: mx.Array, s: mx.Array, b: mx.Array) =>
        mx.sum(mx.multiply(mx.astype(mx.quantizedMatmul(xx, q, s, b, transpose, 32, 4), 'float32'), rr));
      const gg = mx.grad(loss(r.gpu, qg), [0, 1, 2])(x.gpu, sg, bg) as mx.Array[];
      const gc = mx.grad(loss(r.cpu, qc), [0, 1, 2])(x.cpu, sc, bc) as mx.Array[];
      const tol = tolFor(dt, Math.max(M, N));
      ['dx', 'dscales', 'dbiases'].forEach((what, i) => assertMatches(gg[i], gc[i], `${what} transpose ${transpose} M ${M} ${dt.name}`, { rtol: tol.rtol * 4, atol: tol.atol * 4 }));
    }
  });
});
