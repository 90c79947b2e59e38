// The fast ops on the GPU against the CPU kernels: values and gradients in float32,
// float16 and bfloat16. The GPU runs each op's CUDA kernel where the backend registers one
// under the primitive's name (test/cuda/fast-rows.test.ts checks those in depth), else its
// reference. Skips without a usable GPU.
import { describe, test } from 'node:test';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { skip, rand, pair, assertMatches } from '../cuda/util.js';

type Op = (...xs: mx.Array[]) => mx.Array;
interface Case { name: string; shapes: number[][]; op: Op; grad: boolean; int?: { shape: number[]; hi: number } }

const targets = (n: number, hi: number) => Float32Array.from({ length: n }, (_, i) => (i * 7919) % hi);

const cases: Case[] = [
  { name: 'rmsNorm', shapes: [[4, 5, 64], [64]], op: (x, w) => fast.rmsNorm(x, w, 1e-5), grad: true },
  { name: 'layerNorm', shapes: [[4, 5, 64], [64], [64]], op: (x, w, b) => fast.layerNorm(x, w, b, 1e-5), grad: true },
  { name: 'rope', shapes: [[2, 4, 9, 32]], op: (x) => fast.rope(x, 24, { offset: 100, traditional: true }), grad: true },
  { name: 'sdpa causal gqa', shapes: [[2, 4, 33, 16], [2, 2, 40, 16], [2, 2, 40, 16]], op: (q, k, v) => fast.scaledDotProductAttention(q, k, v, { mask: 'causal', windowSize: 20, softcap: 5 }), grad: true },
  // Attention on each CUDA path: tensor cores at D 64 and 128 (halves), split keys for one query.
  { name: 'sdpa multi-query D 128 key lengths', shapes: [[2, 4, 70, 128], [2, 1, 90, 128], [2, 1, 90, 128]], op: (q, k, v) => fast.scaledDotProductAttention(q, k, v, { mask: 'causal', keyLengths: [90, 33] }), grad: true },
  { name: 'sdpa bool mask D 64', shapes: [[1, 2, 80, 64], [1, 2, 80, 64], [1, 2, 80, 64], [1, 1, 80, 80]], op: (q, k, v, m) => fast.scaledDotProductAttention(q, k, v, { mask: mx.greater(m, 0) }), grad: true },
  { name: 'sdpa decode', shapes: [[1, 8, 1, 64], [1, 2, 2000, 64], [1, 2, 2000, 64]], op: (q, k, v) => fast.scaledDotProductAttention(q, k, v), grad: true },
  { name: 'swiglu', shapes: [[8, 300], [8, 300]], op: (a, b) => fast.swiglu(a, b), grad: true },
  { name: 'geglu', shapes: [[8, 300], [8, 300]], op: (a, b) => fast.geglu(a, b, { approximate: 'tanh' }), grad: true },
  { name: 'crossEntropy', shapes: [[12, 5000]], op: (z, t) => fast.crossEntropy(z, t, { labelSmoothing: 0.1 }), grad: true, int: { shape: [12], hi: 5000 } },
  // Row 0's target is 0: ignored. Per-token positions (packed sequences) and per-batch starts.
  { name: 'crossEntropy ignoreIndex', shapes: [[12, 1001]], op: (z, t) => fast.crossEntropy(z, t, { ignoreIndex: 0, reduction: 'sum' }), grad: true, int: { shape: [12], hi: 1001 } },
  { name: 'rope token offsets', shapes: [[2, 4, 9, 32]], op: (x, p) => fast.rope(x, 32, { offset: p, base: 500000 }), grad: true, int: { shape: [2, 9], hi: 4000 } },
  { name: 'rope batch offsets', shapes: [[2, 4, 9, 32]], op: (x, p) => fast.rope(x, 32, { offset: p }), grad: true, int: { shape: [2], hi: 4000 } },
];

describe('fast ops on the GPU match the CPU kernels', { skip }, () => {
  for (const dtype of [mx.float32, mx.float16, mx.bfloat16]) for (const c of cases) test(`${c.name} ${dtype.name}`, () => {
    const ps = c.shapes.map((s, i) => pair(rand(s.reduce((a, b) => a * b, 1), 11 + i, -2, 2), s, dtype));
    const extra = c.int ? [pair(targets(c.int.shape.reduce((a, b) => a * b, 1), c.int.hi), c.int.shape, mx.int32)] : [];
    const cpuIn = [...ps.map((p) => p.cpu), ...extra.map((p) => p.cpu)], gpuIn = [...ps.map((p) => p.gpu), ...extra.map((p) => p.gpu)];
    // Both sides round float32 work to bfloat16 once; block orders differ on the GPU.
    const tol = dtype === mx.bfloat16 ? { rtol: 3e-2, atol: 3e-2 } : dtype === mx.float16 ? { rtol: 4e-3, atol: 4e-3 } : { rtol: 1e-4, atol: 1e-5 };
    assertMatches(c.op(...gpuIn), c.op(...cpuIn), `${c.name} ${dtype.name}`, tol);
    if (!c.grad) return;
    const argnums = ps.map((_, i) => i);
    const project = (...xs: mx.Array[]) => mx.sum(mx.multiply(mx.astype(c.op(...xs), 'float32'), mx.astype(c.op(...xs), 'float32')));
    const gCpu = mx.grad(project, argnums)(...cpuIn) as mx.Array[], gGpu = mx.grad(project, argnums)(...gpuIn) as mx.Array[];
    gGpu.forEach((g, i) => assertMatches(g, gCpu[i], `${c.name} ${dtype.name} gradient ${i}`, { rtol: tol.rtol * 4, atol: tol.atol * 4 }));
  });
});
