// Affine quantization on the GPU gives the CPU's results: quantize's packed words, scales
// and biases exactly (the same float32 steps), dequantize exactly, and quantizedMatmul to
// GEMM tolerance, for every bit width (3, 5 and 6 bits straddle words), group size, dtype,
// transposed or not, with batched weights.
import { describe, test } from 'node:test';
import { skip, rand, pair, assertMatches, mx } from './util.js';

const d = mx.dtypes;
const tolFor = (dt: mx.DType, k: number) => (dt === d.float32 ? { rtol: 1e-4, atol: 1e-5 * k } : dt === d.float16 ? { rtol: 4e-3, atol: 2e-3 * Math.sqrt(k) } : { rtol: 2e-2, atol: 1e-2 * Math.sqrt(k) });

describe('cuda: quantization', { skip }, () => {
  test('quantize and dequantize match the CPU bit for bit', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const bits of [2, 3, 4, 5, 6, 8]) for (const groupSize of [32, 64, 128]) {
      const w = pair(rand(6 * 256, 150 + bits), [2, 3, 256], dt);
      const g = mx.quantize(w.gpu, groupSize, bits), c = mx.quantize(w.cpu, groupSize, bits);
      const where = `quantize ${dt.name} bits ${bits} group ${groupSize}`;
      ['words', 'scales', 'biases'].forEach((what, i) => assertMatches(g[i], c[i], `${where} ${what}`, { rtol: 0, atol: 0 }));
      assertMatches(mx.dequantize(g[0], g[1], g[2], groupSize, bits), mx.dequantize(c[0], c[1], c[2], groupSize, bits), `de${where}`, { rtol: 0, atol: 0 });
    }
  });

  test('quantizedMatmul, transposed or not, batched', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const bits of [4, 3, 8]) for (const transpose of [true, false]) {
      const wShape = transpose ? [64, 128] : [128, 64];
      const w = pair(rand(64 * 128, 160), wShape, dt);
      const [qg, sg, bg] = mx.quantize(w.gpu, 64, bits), [qc, sc, bc] = mx.quantize(w.cpu, 64, bits);
      for (const xShape of [[5, 128], [3, 2, 128], [128]]) {
        const x = pair(rand(xShape.reduce((a, b) => a * b, 1), 161), xShape, dt);
        assertMatches(mx.quantizedMatmul(x.gpu, qg, sg, bg, transpose, 64, bits), mx.quantizedMatmul(x.cpu, qc, sc, bc, transpose, 64, bits),
          `quantizedMatmul ${dt.name} bits ${bits} transpose ${transpose} x ${xShape}`, tolFor(dt, 128));
      }
    }
    // A batch of weights broadcast against a batch of inputs.
    const w = pair(rand(2 * 32 * 64, 162), [2, 32, 64], d.float32);
    const [qg, sg, bg] = mx.quantize(w.gpu, 32, 4), [qc, sc, bc] = mx.quantize(w.cpu, 32, 4);
    const x = pair(rand(3 * 1 * 4 * 64, 163), [3, 1, 4, 64], d.float32);
    assertMatches(mx.quantizedMatmul(x.gpu, qg, sg, bg, true, 32, 4), mx.quantizedMatmul(x.cpu, qc, sc, bc, true, 32, 4), 'quantizedMatmul batched', tolFor(d.float32, 64));
  });
});
