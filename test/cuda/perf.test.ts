// Rough throughput numbers on the GPU, printed for the record (a first look, not the
// benchmark suite): host time per op, elementwise bandwidth, a bf16 GEMM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, mx } from './util.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';

const sync = () => cudaBackend.synchronize();
function timeIt(reps: number, fn: () => void): number {
  fn(); sync();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  sync();
  return (performance.now() - t0) / reps;
}

describe('cuda: throughput (printed)', { skip }, () => {
  test('host time per op, bandwidth, GEMM', () => {
    const small = mx.full([256], 1, mx.float32, { stream: mx.gpu });
    timeIt(5000, () => { mx.add(small, 1).eval().dispose(); }); // warms the JIT
    const perOp = timeIt(20000, () => { mx.add(small, 1).eval().dispose(); });
    const n = 1 << 26;
    const big = mx.full([n], 1.5, mx.float32, { stream: mx.gpu }).eval();
    const addMs = timeIt(10, () => { mx.add(big, big).eval().dispose(); });
    const copyMs = timeIt(10, () => { mx.transpose(mx.reshape(big, [8192, 8192])).eval().dispose(); });
    const sumMs = timeIt(10, () => { mx.sum(big).eval().dispose(); });
    const a = mx.full([4096, 4096], 0.01, mx.bfloat16, { stream: mx.gpu }).eval();
    const gemmMs = timeIt(10, () => { mx.matmul(a, a).eval().dispose(); });
    const gb = (bytes: number, ms: number) => (bytes / ms / 1e6).toFixed(0);
    console.log(`# ${cudaBackend.runtime.info.name}: ${(perOp * 1000).toFixed(1)} us host time per small add; ` +
      `add 2^26 f32 ${addMs.toFixed(3)} ms (${gb(3 * 4 * n, addMs)} GB/s); transpose 8192^2 f32 ${copyMs.toFixed(3)} ms (${gb(2 * 4 * n, copyMs)} GB/s); ` +
      `sum 2^26 f32 ${sumMs.toFixed(3)} ms (${gb(4 * n, sumMs)} GB/s); bf16 GEMM 4096^3 ${gemmMs.toFixed(3)} ms (${(2 * 4096 ** 3 / gemmMs / 1e9).toFixed(0)} TFLOP/s)`);
    assert.ok(Math.abs((mx.sum(big).item() as number) - 1.5 * n) < 1e-3 * n);
    mx.dispose([small, big, a]);
  });
});
