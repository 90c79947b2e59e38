// The fast ops on the GPU against the CPU kernels: values and gradients in float32 and
// bfloat16. Today the GPU runs each op's reference (the CUDA backend has no fast kernels
// yet); as kernels land under the same primitive names, these same checks cover them.
// Skips without a usable GPU.
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
  { name: 'swiglu', shapes: [[8, 300], [8, 300]], op: (a, b) => fast.swiglu(a, b), grad: true },
  { name: 'geglu', shapes: [[8, 300], [8, 300]], op: (a, b) => fast.geglu(a, b, { approximate: 'tanh' }), grad: true },
  { name: 'crossEntropy', shapes: [[12, 5000]], op: (z, t) => fast.crossEntropy(z, t, { labelSmoothing: 0.1 }), grad: true, int: { shape: [12], hi: 5000 } },
];

describe('fast ops on the GPU match the CPU kernels', { skip }, () => {
  for (const dtype of [mx.float32, mx.bfloat16]) for (const c of cases) test(`${c.name} ${dtype.name}`, () => {
    const ps = c.shapes.map((s, i) => pair(rand(s.reduce((a, b) => a * b, 1), 11 + i, -2, 2), s, dtype));
    const extra = c.int ? [pair(targets(c.int.shape[0], c.int.hi), c.int.shape, mx.int32)] : [];
    const cpuIn = [...ps.map((p) => p.cpu), ...extra.map((p) => p.cpu)], gpuIn = [...ps.map((p) => p.gpu), ...extra.map((p) => p.gpu)];
    // Both sides round float32 work to bfloat16 once; block orders differ on the GPU.
    const tol = dtype === mx.bfloat16 ? { rtol: 3e-2, atol: 3e-2 } : { rtol: 1e-4, atol: 1e-5 };
    assertMatches(c.op(...gpuIn), c.op(...cpuIn), `${c.name} ${dtype.name}`, tol);
    if (!c.grad) return;
    const argnums = ps.map((_, i) => i);
    const project = (...xs: mx.Array[]) => mx.sum(mx.multiply(mx.astype(c.op(...xs), 'float32'), mx.astype(c.op(...xs), 'float32')));
    const gCpu = mx.grad(project, argnums)(...cpuIn) as mx.Array[], gGpu = mx.grad(project, argnums)(...gpuIn) as mx.Array[];
    gGpu.forEach((g, i) => assertMatches(g, gCpu[i], `${c.name} ${dtype.name} gradient ${i}`, { rtol: tol.rtol * 4, atol: tol.atol * 4 }));
  });
});
