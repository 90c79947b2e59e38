// Rough throughput numbers on the GPU, printed for the record (a first look, not the
// benchmark suite): host time per op, elementwise bandwidth, a bf16 GEMM; scans, sorts,
// gathers and scatters, random bits and a convolution.
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

  test('scans, sorts, indexing, random bits, conv', () => {
    const n = 1 << 26;
    const key = mx.random.key(0, { stream: mx.gpu });
    const x = mx.random.uniform(0, 1, [n], mx.float32, key, { stream: mx.gpu }).eval();
    const rows = mx.reshape(x, [4096, n / 4096]);
    const ms: Record<string, number> = {};
    ms['cumsum 2^26 one row'] = timeIt(5, () => { mx.cumsum(x).eval().dispose(); });
    ms['cumsum 4096 x 16384 rows'] = timeIt(5, () => { mx.cumsum(rows, -1).eval().dispose(); });
    ms['cumsum 4096 x 16384 axis 0'] = timeIt(5, () => { mx.cumsum(rows, 0).eval().dispose(); });
    const m = mx.reshape(x, [n / 256, 256]);
    ms['argsort 2^18 rows of 256'] = timeIt(3, () => { mx.argsort(m, -1).eval().dispose(); });
    const line = mx.slice(x, [0], [0], [1 << 22]);
    ms['sort one line of 2^22'] = timeIt(3, () => { mx.sort(line).eval().dispose(); });
    const table = mx.reshape(mx.slice(x, [0], [0], [32768 * 1024]), [32768, 1024]);
    const ids = mx.remainder(mx.random.bits([16384], 4, key, { stream: mx.gpu }), 32768);
    ms['take 16384 rows of 1024 f32'] = timeIt(10, () => { mx.take(table, ids, 0).eval().dispose(); });
    const upd = mx.full([16384, 1024], 1, mx.float32, { stream: mx.gpu });
    ms['scatterAdd 16384 rows of 1024 f32'] = timeIt(10, () => { mx.scatterAdd(table, ids, mx.expandDims(upd, 1), 0).eval().dispose(); });
    ms['random bits 2^26 u32'] = timeIt(10, () => { mx.random.bits([n], 4, key, { stream: mx.gpu }).eval().dispose(); });
    const img = mx.astype(mx.reshape(mx.slice(x, [0], [0], [32 * 56 * 56 * 64]), [32, 56, 56, 64]), mx.float16);
    const w = mx.astype(mx.reshape(mx.slice(x, [0], [0], [64 * 9 * 64]), [64, 3, 3, 64]), mx.float16);
    ms['conv2d f16 32x56x56x64, 3x3x64'] = timeIt(5, () => { mx.conv2d(img, w, 1, 1).eval().dispose(); });
    console.log(`# ${cudaBackend.runtime.info.name}: ${Object.entries(ms).map(([k, v]) => `${k} ${v.toFixed(3)} ms`).join('; ')}`);
  });
});
