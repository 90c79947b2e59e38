// Matrix products on the GPU (cuBLAS for floats, a tiled kernel for integers and bools)
// give the CPU backend's results: plain, batched, broadcast batches, vectors, transposed
// operands, K = 0, and TF32 when allowed.
import { describe, test } from 'node:test';
import { skip, rand, check, pair, assertMatches, mx } from './util.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import type { CudaBuffer } from '../../src/backend/cuda/backend.js';
import { gemm } from '../../src/backend/cuda/kernels/matmul.js';

const d = mx.dtypes;
const mm = (a: mx.Array, b: mx.Array) => mx.matmul(a, b);

// fp16/bf16 products accumulate in fp32 on both backends but round inputs' products
// differently; allow a few units in the last place of the result's dtype, scaled by K.
const tolFor = (dt: mx.DType, k: number) =>
  dt === d.float32 ? { rtol: 1e-4, atol: 1e-5 * k } : dt === d.float16 ? { rtol: 4e-3, atol: 2e-3 * Math.sqrt(k) } : { rtol: 2e-2, atol: 1e-2 * Math.sqrt(k) };

const CASES: [number[], number[]][] = [
  [[64, 32], [32, 48]],
  [[1, 300], [300, 7]],
  [[3, 17, 9], [3, 9, 5]],       // batched
  [[2, 1, 4, 6], [3, 6, 5]],     // broadcast batch dims on both sides
  [[5, 8, 16], [16, 4]],         // shared B: batch folds into rows
  [[16], [16, 3]],               // vector @ matrix
  [[4, 16], [16]],               // matrix @ vector
  [[3, 0], [0, 4]],              // K = 0: zeros
  [[0, 5], [5, 2]],              // empty result
];

describe('cuda: matmul', { skip }, () => {
  test('float dtypes through cuBLAS', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const [sa, sb] of CASES) {
      const k = sa[sa.length - 1];
      check(`matmul ${sa} @ ${sb} ${dt.name}`, [
        { values: rand(sa.reduce((a, b) => a * b, 1), 60), shape: sa, dtype: dt },
        { values: rand(sb.reduce((a, b) => a * b, 1), 61), shape: sb, dtype: dt },
      ], mm, tolFor(dt, k));
    }
  });

  test('transposed and sliced operands', () => {
    const a = { values: rand(40 * 24, 62), shape: [40, 24], dtype: d.float32 };
    const b = { values: rand(24 * 40, 63), shape: [24, 40], dtype: d.float32 };
    check('a.T @ b.T', [a, b], (x, y) => mx.matmul(mx.transpose(x), mx.transpose(y)), tolFor(d.float32, 40));
    check('a[::2] @ b', [a, { values: rand(24 * 8, 63), shape: [24, 8], dtype: d.float32 }], (x, y) => mx.matmul(mx.stridedSlice(x, [0, 0], [40, 24], [2, 1]), y), tolFor(d.float32, 24));
  });

  test('integers and bools wrap like C', () => {
    for (const dt of [d.int32, d.int8, d.uint8, d.int64, d.uint32, d.bool]) for (const [sa, sb] of CASES) {
      check(`matmul ${sa} @ ${sb} ${dt.name}`, [
        { values: rand(sa.reduce((a, b) => a * b, 1), 64, -20, 20), shape: sa, dtype: dt },
        { values: rand(sb.reduce((a, b) => a * b, 1), 65, -20, 20), shape: sb, dtype: dt },
      ], mm);
    }
  });

  test('gemm reads transposed operands through cuBLAS op flags', () => {
    const [M, N, K] = [5, 7, 9];
    for (const [transA, transB] of [[true, false], [false, true], [true, true]]) {
      const a = pair(rand(M * K, 70), transA ? [K, M] : [M, K], d.float32), b = pair(rand(K * N, 71), transB ? [N, K] : [K, N], d.float32);
      const c = mx.zeros([M, N], d.float32, { stream: mx.gpu });
      mx.eval(a.gpu, b.gpu, c);
      const ptr = (x: mx.Array) => (x._buf as CudaBuffer).ptr;
      gemm(cudaBackend.runtime, { a: ptr(a.gpu), b: ptr(b.gpu), c: ptr(c), M, N, K, strideA: 0, strideB: 0, strideC: 0, batch: 1, dtype: d.float32, transA, transB });
      const want = mx.matmul(transA ? mx.transpose(a.cpu) : a.cpu, transB ? mx.transpose(b.cpu) : b.cpu);
      assertMatches(c, want, `gemm transA=${transA} transB=${transB}`, tolFor(d.float32, K));
    }
  });

  test('TF32 when allowed (about 10 bits of mantissa in products)', () => {
    cudaBackend.allowTF32 = true;
    try {
      check('matmul tf32', [{ values: rand(128 * 256, 66), shape: [128, 256], dtype: d.float32 }, { values: rand(256 * 64, 67), shape: [256, 64], dtype: d.float32 }],
        mm, { rtol: 1e-2, atol: 2e-2 });
    } finally {
      cudaBackend.allowTF32 = false;
    }
  });

  test('a large bf16 GEMM', () => {
    check('matmul 1024x2048 @ 2048x512 bf16', [
      { values: rand(1024 * 2048, 68), shape: [1024, 2048], dtype: d.bfloat16 },
      { values: rand(2048 * 512, 69), shape: [2048, 512], dtype: d.bfloat16 },
    ], mm, tolFor(d.bfloat16, 2048));
  });
});
