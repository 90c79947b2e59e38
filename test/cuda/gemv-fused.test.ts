// compile()'s fused GEMVs on the GPU (core/transforms/fuse-linear.ts, kernels/gemv.ts's
// renderGemvFused): for each pattern (siblings of one x, swiglu/geglu of gate and up,
// x @ W^T + r in either order) and each float dtype, the compiled function (traced, then a
// CUDA graph recorded and launched) gives exactly the eager result: the same bits, since the
// kernel keeps the unfused GEMV's sums and rounds where the unfused kernels store. Also:
// M = 1..4 (batches of x folding into rows), odd N, three weights of different N, the
// Llama-3.2-1B shapes, the fallback to the unfused launches (K not in 16-byte chunks, teams
// that differ, the GEMV switched off), and grad through a compiled function.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, mx } from './util.js';
import { swiglu, geglu } from '../../src/fast/glu.js';
import { compile, compileStats, type CompileStats } from '../../src/core/transforms/compile.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { gemvLaunches, gemvShape, gemvTuning } from '../../src/backend/cuda/kernels/gemv.js';

type A = mx.Array;
const d = mx.dtypes;
const DTYPES = [d.float32, d.float16, d.bfloat16];

let seed = 1;
/** Values in [-1, 1) (scaled) on the GPU, evaluated. */
function gpu(shape: number[], dtype: mx.DType, scale = 1): A {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = mx.reshape(mx.array(rand(n, seed++, -scale, scale), dtype, { stream: mx.gpu }), shape);
  mx.eval(x);
  return x;
}

const lin = (x: A, w: A) => mx.matmul(x, mx.transpose(w));

interface Ran { stats: CompileStats; fused: number; unfused: number }

/**
 * f eager, then compiled (first call: the tape replayed; second: recorded as a graph; third:
 * the graph launched): every result bit for bit the eager one. Returns the compile counters
 * and the fused / unfused fusedLinear runs of the first call.
 */
function same(f: (...xs: A[]) => A[], xs: A[], where: string): Ran {
  const want = f(...xs);
  mx.eval(want);
  const c = compile((...a: A[]) => f(...a));
  const before = { ...gemvLaunches };
  const first = c(...xs);
  mx.eval(first);
  const ran = { fused: gemvLaunches.fused - before.fused, unfused: gemvLaunches.unfused - before.unfused };
  for (const [k, got] of [first, c(...xs), c(...xs)].entries()) {
    got.forEach((g, i) => {
      assert.equal(g.dtype, want[i].dtype, `${where}: output ${i} dtype`);
      assert.deepEqual([...g.shape], [...want[i].shape], `${where}: output ${i} shape`);
      assert.deepEqual(g.dataSync(), want[i].dataSync(), `${where}: call ${k + 1}, output ${i}: compiled differs from eager`);
    });
  }
  const stats = compileStats(c)!;
  assert.ok(stats.graphLaunches >= 1, `${where}: the third call launches a graph (${stats.graphReason})`);
  c.dispose();
  return { stats, ...ran };
}

/** x shapes with 1 to 4 rows, batches of x folding into rows included. */
const XS = (K: number) => [[1, K], [2, K], [1, 3, K], [2, 2, K], [4, 1, K]];
const rowsOf = (s: number[]) => s.slice(0, -1).reduce((a, b) => a * b, 1);

/** Whether the fused kernel runs for weights of these N (their GEMV teams agree), else the unfused launches. */
function fusesFor(Ns: number[], K: number, dtype: mx.DType): boolean {
  const C = K / (16 / dtype.size), sms = cudaBackend.runtime.info.sms;
  const teams = Ns.map((N) => gemvShape(N, C, 8, sms).team);
  return teams.every((t) => t === teams[0]);
}

function expectFused(r: Ran, nodes: number, fused: boolean, where: string): void {
  assert.equal(r.stats.linearFused, nodes, `${where}: fusedLinear nodes`);
  assert.equal(r.fused, fused ? nodes : 0, `${where}: fused launches`);
  assert.equal(r.unfused, fused ? 0 : nodes, `${where}: unfused fallbacks`);
}

describe('cuda: fused GEMVs (compile: siblings, GLU and residual epilogues)', { skip }, () => {
  test('siblings: three weights of different (odd) N, every dtype and row count', () => {
    const K = 256;
    for (const dtype of DTYPES) {
      const ws = [96, 33, 17].map((N) => gpu([N, K], dtype, 0.2));
      for (const xs of XS(K)) {
        const where = `${dtype.name} x (${xs})`;
        const r = same((x) => ws.map((w) => lin(x, w)), [gpu(xs, dtype)], where);
        expectFused(r, 1, true, where);
        assert.equal(r.stats.linearOps, 3);
      }
    }
  });

  test('GLU: swiglu, geglu and geglu tanh of gate and up, every dtype and row count', () => {
    const K = 256, N = 37;
    const acts: [string, (g: A, u: A) => A][] = [['swiglu', (g, u) => swiglu(g, u)], ['geglu', (g, u) => geglu(g, u)], ['geglu tanh', (g, u) => geglu(g, u, { approximate: 'tanh' })]];
    for (const dtype of DTYPES) {
      const wg = gpu([N, K], dtype, 0.3), wu = gpu([N, K], dtype, 0.3);
      for (const [name, act] of acts) for (const xs of XS(K)) {
        const where = `${name} ${dtype.name} x (${xs})`;
        expectFused(same((x) => [act(lin(x, wg), lin(x, wu))], [gpu(xs, dtype)], where), 1, true, where);
      }
    }
  });

  test('residual: x @ W^T + r and r + x @ W^T, every dtype and row count; teams of one warp to eight', () => {
    for (const dtype of DTYPES) for (const K of [512, 8192]) {
      const w = gpu([45, K], dtype, 0.05);
      for (const xs of XS(K)) {
        const x = gpu(xs, dtype), r = gpu([...xs.slice(0, -1), 45], dtype);
        for (const [order, f] of [['(y, r)', (a: A, b: A) => [mx.add(lin(a, w), b)]], ['(r, y)', (a: A, b: A) => [mx.add(b, lin(a, w))]]] as const) {
          const where = `${dtype.name} K ${K} x (${xs}) ${order}`;
          expectFused(same(f, [x, r], where), 1, true, where);
        }
      }
    }
  });

  test('Llama-3.2-1B shapes (bf16, M = 1 and 4): q/k/v, gate/up + swiglu, o and down + residual', () => {
    const D = 2048, F = 8192;
    const [wq, wk, wv, wo, wg, wu, wd] = [[D, D], [512, D], [512, D], [D, D], [F, D], [F, D], [D, F]].map((s) => gpu(s, d.bfloat16, 0.03));
    for (const xs of [[1, 1, D], [1, 4, D]]) {
      const x = gpu(xs, d.bfloat16);
      expectFused(same((a) => [lin(a, wq), lin(a, wk), lin(a, wv)], [x], `qkv (${xs})`), 1, true, 'qkv');
      expectFused(same((a) => [swiglu(lin(a, wg), lin(a, wu))], [x], `gate/up (${xs})`), 1, true, 'gate/up');
      const h = gpu([...xs.slice(0, -1), F], d.bfloat16), r = gpu([...xs.slice(0, -1), D], d.bfloat16);
      expectFused(same((a, b) => [mx.add(b, lin(a, wo))], [x, r], `o + r (${xs})`), 1, true, 'o');
      expectFused(same((a, b) => [mx.add(lin(a, wd), b)], [h, r], `down + r (${xs})`), 1, true, 'down');
    }
  });

  test('a decode-like block: four fused nodes, one launch each', () => {
    for (const dtype of DTYPES) {
      const D = 256, F = 384;
      const [wq, wk, wv, wo, wg, wu, wd] = [[D, D], [64, D], [64, D], [D, D], [F, D], [F, D], [D, F]].map((s) => gpu(s, dtype, 0.1));
      const block = (x: A): A[] => {
        const q = lin(x, wq), k = lin(x, wk), v = lin(x, wv);
        const attn = mx.add(mx.multiply(q, mx.mean(k, -1, true)), mx.mean(v, -1, true));
        const h = mx.add(x, lin(attn, wo));
        return [mx.add(lin(swiglu(lin(h, wg), lin(h, wu)), wd), h)];
      };
      const r = same(block, [gpu([1, 1, D], dtype)], `block ${dtype.name}`);
      expectFused(r, 4, true, `block ${dtype.name}`);
      assert.equal(r.stats.linearOps, 10);
    }
  });

  test('the unfused launches where the kernel cannot match them: K not in 16-byte chunks, teams that differ, GEMV off', () => {
    const [wg, wu] = [gpu([40, 100], d.bfloat16, 0.1), gpu([40, 100], d.bfloat16, 0.1)];
    expectFused(same((x) => [swiglu(lin(x, wg), lin(x, wu))], [gpu([2, 100], d.bfloat16)], 'K = 100 bf16'), 1, false, 'K = 100');
    // float32 K = 2048: a weight of 8192 rows keeps a warp per row, one of 64 rows takes two.
    const Ns = [8192, 64];
    const ws = Ns.map((N) => gpu([N, 2048], d.float32, 0.05));
    const x = gpu([1, 2048], d.float32);
    expectFused(same((a) => ws.map((w) => lin(a, w)), [x], 'teams differ'), 1, fusesFor(Ns, 2048, d.float32), 'teams differ');
    assert.ok(!fusesFor(Ns, 2048, d.float32), 'these weights pick different teams (the case this checks)');
    const was = gemvTuning.enabled;
    gemvTuning.enabled = false;
    try {
      const w = gpu([45, 2048], d.float16, 0.05), r = gpu([1, 45], d.float16);
      expectFused(same((a, b) => [mx.add(lin(a, w), b)], [gpu([1, 2048], d.float16), r], 'GEMV off'), 1, false, 'GEMV off');
    } finally { gemvTuning.enabled = was; }
  });

  test('grad through a compiled function replays fusedLinear nodes and differentiates their reference', () => {
    const wg = gpu([24, 64], d.float32, 0.2), wu = gpu([24, 64], d.float32, 0.2), wd = gpu([64, 24], d.float32, 0.2);
    const f = (x: A) => mx.sum(mx.add(lin(swiglu(lin(x, wg), lin(x, wu)), wd), x));
    const x = gpu([2, 64], d.float32);
    const c = compile(f);
    const want = mx.grad(f)(x), got = mx.grad(c)(x);
    const g = got.dataSync(), w = want.dataSync();
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(Number(g[i]) - Number(w[i])) <= 1e-5 * (1 + Math.abs(Number(w[i]))), `element ${i}: ${g[i]} vs ${w[i]}`);
    assert.equal(compileStats(c)!.linearFused, 2, 'gate/up + swiglu, down + residual');
  });
});
