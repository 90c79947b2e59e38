// bench/gpu/graph.ts: one decoding step of a Llama-3.2-1B-shaped model (bf16, random weights:
// hidden 2048, 32 heads, 8 kv heads, head dim 64, ffn 8192, vocab 128256, 16 layers, tied
// embeddings), batch 1, a static KV cache of 1024 positions, run four ways:
//   eager     model.forward over the static cache, evaluated (one launch per primitive)
//   compiled  the compiled step (fused tape) replayed lazily, without a graph
//   graph     the compiled step launched as a CUDA graph (generateStep's `compiled: true`)
//   greedy    the same with the argmax inside the graph, tokens fed back on the device
// For each: host time per step (the JS call until the work is queued), device time per step
// (CUDA events around the step, queued behind a spin kernel so host time stays out), and
// tokens per second with a read of the token each step (greedy: one read at the end), beside
// the bandwidth bound (weight bytes / HBM bandwidth: 3.35 TB/s H100, 4.8 TB/s H200). The
// compiled step's kernels are also timed one by one (events between launches), so the graph's
// device time can be compared with the sum of its kernels.
//
// Run on the GPU machine: `bash .gpu/enter.sh npx tsx bench/gpu/graph.ts [--steps 200] [--json out.json]`.
import { writeFileSync } from 'node:fs';
import * as mx from '../../src/index.js';
import { cudaBackend, gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { check } from '../../src/backend/cuda/ffi/libcuda.js';
import { compile, compileStats } from '../../src/core/transforms/compile.js';
import { fromConfig } from '../../src/lm/models/llama.js';
import { makeStaticCache, type StaticKVCache } from '../../src/lm/static-cache.js';
import { stepBody } from '../../src/lm/compiled-step.js';
import { gemm } from '../../src/backend/cuda/kernels/matmul.js';
import { openLibrary } from '../../src/backend/cuda/ffi/load.js';
import type { CudaBuffer } from '../../src/backend/cuda/allocator.js';
import { median } from './timer.js';
import { elapsedMs, kernelTimes, newEvent, record, spin } from './kernel-times.js';

const arg = (name: string, fallback: number) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : fallback; };
const STEPS = arg('steps', 100), CACHE = arg('cache', 1024), LAYERS = arg('layers', 16), PROMPT = 16;
const jsonAt = process.argv.indexOf('--json');

const why = gpuUnavailableReason();
if (why) { console.log(`bench/gpu/graph.ts: no GPU (${why})`); process.exit(0); }

const rt = cudaBackend.runtime, d = rt.driver;
const card = rt.info.name;
const bandwidth = /H200/.test(card) ? 4.8e12 : /H100/.test(card) ? 3.35e12 : NaN;

// ---------------------------------------------------------------- the model

const config = {
  model_type: 'llama', hidden_size: 2048, intermediate_size: 8192, num_hidden_layers: LAYERS, num_attention_heads: 32,
  num_key_value_heads: 8, head_dim: 64, vocab_size: 128256, rms_norm_eps: 1e-5, tie_word_embeddings: true,
  max_position_embeddings: 131072, rope_theta: 500000,
  rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
};
mx.random.seed(0);
const model = fromConfig(config);
model.setDtype('bfloat16');
const params = (t: unknown): mx.Array[] => (t instanceof mx.Array ? [t] : Array.isArray(t) ? t.flatMap(params) : t && typeof t === 'object' ? Object.values(t).flatMap(params) : []);
const weights = [...new Set(params(model.parameters()))];
for (const w of weights) mx.eval(w);
const weightBytes = weights.reduce((s, w) => s + w.nbytes, 0);

// ---------------------------------------------------------------- timing helpers

const [e0, e1] = [newEvent(), newEvent()];

interface Timing { host: number; device: number; tokPerS: number }

/**
 * Median host ms and device ms of `step()` (which queues one step and returns what to free),
 * then tokens/s of `steps` steps each followed by `read` (a sync).
 */
function measure(step: () => mx.Array[], read: (outs: mx.Array[]) => void, reps = 15): Timing {
  for (let i = 0; i < 3; i++) { const o = step(); read(o); mx.dispose(o); }
  const host: number[] = [], device: number[] = [];
  for (let i = 0; i < reps; i++) {
    rt.synchronize();
    spin(60);
    record(e0);
    const t = performance.now();
    const o = step();
    host.push(performance.now() - t);
    record(e1);
    rt.synchronize();
    device.push(elapsedMs(e0, e1));
    mx.dispose(o);
  }
  rt.synchronize();
  const t = performance.now();
  for (let i = 0; i < STEPS; i++) { const o = step(); read(o); mx.dispose(o); }
  rt.synchronize();
  const wall = (performance.now() - t) / STEPS;
  return { host: median(host), device: median(device), tokPerS: 1000 / wall };
}

// ---------------------------------------------------------------- the four ways

const tokens = () => mx.array([[7]], mx.int32);
const readToken = (o: mx.Array[]) => { mx.argmax(o[0], -1).dataSync(); };

function prefilled(): StaticKVCache[] {
  const cache = makeStaticCache(model, CACHE);
  mx.tidy(() => { model.forward(mx.array([Array.from({ length: PROMPT }, (_, i) => i + 1)], mx.int32), cache); return cache.map((c) => c.state); });
  return cache;
}

/** A step over `cache` with a compiled function; keeps the cache's arrays current and frees replaced ones. */
function compiledStepOver(cache: StaticKVCache[], fn: ReturnType<typeof compile<Parameters<ReturnType<typeof stepBody>>, ReturnType<ReturnType<typeof stepBody>>>>, feed?: { tokens: mx.Array }) {
  let position = mx.keep(mx.array(cache[0].offset, mx.int32));
  return (): mx.Array[] => {
    const keys = cache.map((c) => c.keys!), values = cache.map((c) => c.values!);
    const input = feed ? feed.tokens : tokens();
    const [head, pos, k2, v2] = fn(input, position, keys, values);
    mx.eval(head, pos, k2, v2);
    const kept = new Set([...k2, ...v2]);
    for (const a of [...keys, ...values]) if (!kept.has(a)) a.dispose();
    position.dispose();
    position = mx.keep(pos);
    cache.forEach((c, i) => { c.keys = mx.keep(k2[i]); c.values = mx.keep(v2[i]); });
    if (feed) { feed.tokens.dispose(); feed.tokens = mx.keep(head); return []; }
    input.dispose();
    return [head];
  };
}

// --profile-one: one graph replay between cuProfilerStart/Stop, for
// `ncu --profile-from-start off --graph-profiling node --metrics gpu__time_duration.sum`.
if (process.argv.includes('--profile-one')) {
  const lib = openLibrary(['libcuda.so.1', 'libcuda.so']);
  if ('error' in lib) throw new Error(lib.error);
  const start = lib.lib.func('int cuProfilerStart()') as () => number, stop = lib.lib.func('int cuProfilerStop()') as () => number;
  const fn = compile(stepBody(model), { donateArgnums: [2, 3] });
  const cache = prefilled();
  const step = compiledStepOver(cache, fn);
  for (let i = 0; i < 3; i++) mx.dispose(step());
  rt.synchronize();
  start();
  mx.dispose(step());
  rt.synchronize();
  stop();
  console.log(`profiled one replay: ${compileStats(fn)!.graphNodes} graph nodes`);
  process.exit(0);
}

const rows: { mode: string; t: Timing; note: string }[] = [];
const failures: string[] = [];
/** Runs one part of the bench; a failure is reported and the rest still runs. */
const T0 = performance.now();
function part(name: string, fn: () => void): void {
  console.log(`# ${name} at ${((performance.now() - T0) / 1000).toFixed(1)} s`);
  try { fn(); } catch (e) { failures.push(`${name}: ${(e as Error).stack ?? e}`); console.log(`# ${name} failed: ${(e as Error).message}`); }
}

part('eager', () => { // eager
  const cache = prefilled();
  const step = () => {
    const t = tokens();
    const before = cache.flatMap((c) => c.state);
    const logits = model.forward(t, cache);
    mx.eval(logits, cache.map((c) => c.state));
    for (const a of before) a.dispose();
    t.dispose();
    for (const c of cache) c.offset = PROMPT; // stay at one position: the shapes never change
    return [logits];
  };
  rows.push({ mode: 'eager', t: measure(step, readToken), note: 'model.forward over the static cache, one launch per primitive' });
  mx.dispose(cache.map((c) => c.state));
});

const plain = compile(stepBody(model), { donateArgnums: [2, 3], cudaGraph: false });
let kernelSum = NaN, kernelCount = 0, topKernels: [string, number, number][] = [];
part('compiled', () => { // compiled, no graph; then its kernels one by one
  const cache = prefilled();
  const step = compiledStepOver(cache, plain);
  rows.push({ mode: 'compiled', t: measure(step, readToken), note: 'the fused tape replayed lazily: one launch per kernel' });
  // Per-kernel device times (kernel-times.ts); the read's own kernels (argmax) are left out.
  const t = kernelTimes(() => { mx.dispose(step()); });
  kernelSum = t.total; kernelCount = t.count;
  topKernels = t.per.slice(0, 8);
  mx.dispose(cache.map((c) => c.state));
});

const graphFn = compile(stepBody(model), { donateArgnums: [2, 3] });
part('graph', () => { // graph
  const cache = prefilled();
  rows.push({ mode: 'graph', t: measure(compiledStepOver(cache, graphFn), readToken), note: 'the compiled step launched as a CUDA graph' });
  mx.dispose(cache.map((c) => c.state));
});

const greedyFn = compile(stepBody(model, (logits) => mx.reshape(mx.astype(mx.argmax(logits, -1), mx.int32), [1, 1])), { donateArgnums: [2, 3] });
part('greedy', () => { // greedy in the graph, tokens stay on the device
  const cache = prefilled();
  const feed = { tokens: mx.keep(tokens()) };
  const step = compiledStepOver(cache, greedyFn, feed);
  rows.push({ mode: 'greedy', t: measure(step, () => undefined), note: 'argmax inside the graph, the token fed back on the device, read once at the end' });
  mx.dispose(cache.map((c) => c.state));
});

// The GEMVs of a step (batch 1) two ways: B = W^T materialized (what matmul(x, transpose(W))
// hands cuBLAS today) and B = W read transposed in place (cuBLAS op T), L2 flushed.
const gemvs: { K: number; N: number; materialized: number; inPlace: number }[] = [];
part('gemv', () => {
  const flush = mx.zeros([256 * 2 ** 20], mx.uint8);
  mx.eval(flush);
  const fptr = (flush._buf as CudaBuffer).ptr;
  for (const [K, N] of [[2048, 2048], [2048, 512], [2048, 8192], [8192, 2048], [2048, 128256]]) {
    const x = mx.astype(mx.random.normal([1, K]), mx.bfloat16), w = mx.astype(mx.random.normal([N, K]), mx.bfloat16);
    const wt = mx.transpose(w), y = mx.zeros([1, N], mx.bfloat16);
    mx.eval(x, w, wt, y);
    const ptr = (a: mx.Array) => (a._buf as CudaBuffer).ptr;
    const time = (transB: boolean) => {
      const t: number[] = [];
      for (let i = 0; i < 23; i++) {
        check(d, d.cuMemsetD8Async(fptr, i & 255, 256 * 2 ** 20, rt.stream), 'cuMemsetD8Async');
        spin(2);
        record(e0);
        gemm(rt, { a: ptr(x), b: ptr(transB ? w : wt), c: ptr(y), M: 1, N, K, strideA: K, strideB: N * K, strideC: N, batch: 1, dtype: mx.bfloat16, transB });
        record(e1);
        rt.synchronize();
        if (i >= 3) t.push(elapsedMs(e0, e1));
      }
      return median(t);
    };
    gemvs.push({ K, N, materialized: time(false), inPlace: time(true) });
    mx.dispose([x, w, wt, y]);
  }
  flush.dispose();
});

// ---------------------------------------------------------------- report

const boundMs = (weightBytes / bandwidth) * 1e3;
const gs = compileStats(graphFn)!, ps = compileStats(plain)!;
const graphRow = rows.find((r) => r.mode === 'graph') ?? { t: { device: NaN } };
const lines = [
  `## decode step, Llama-3.2-1B shape (${LAYERS} layers, bf16, batch 1, static cache ${CACHE}) on ${card}`,
  '',
  `weights ${(weightBytes / 2 ** 30).toFixed(2)} GiB; bandwidth bound ${boundMs.toFixed(3)} ms/token = ${(1000 / boundMs).toFixed(0)} tok/s at ${(bandwidth / 1e12).toFixed(2)} TB/s`,
  `compiled tape: ${ps.nodes} nodes before fusion, ${ps.tapeNodes} after (${ps.fusedNodes} fused, ${ps.fusedOps} ops in them, ${ps.reductionsFused} reductions); graph: ${gs.graphNodes} nodes, ${(gs.graphBytes / 2 ** 20).toFixed(1)} MiB${gs.graphReason ? `; no graph: ${gs.graphReason}` : ''}`,
  '',
  '| mode | host ms/step | device ms/step | device % of bound | tok/s | tok/s % of bound | what |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(({ mode, t, note }) => `| ${mode} | ${t.host.toFixed(3)} | ${t.device.toFixed(3)} | ${((boundMs / t.device) * 100).toFixed(1)}% | ${t.tokPerS.toFixed(0)} | ${((t.tokPerS * boundMs) / 10).toFixed(1)}% | ${note} |`),
  '',
  `kernels of the compiled step, timed one by one: ${kernelCount} launches (GEMMs and copies included), sum ${kernelSum.toFixed(3)} ms; graph replay ${graphRow.t.device.toFixed(3)} ms (${((graphRow.t.device / kernelSum) * 100).toFixed(0)}% of the sum)`,
  `largest: ${topKernels.map(([k, ms, c]) => `${k} ${ms.toFixed(3)} ms (${c})`).join(', ')}`,
  '',
  'cuBLAS GEMV at batch 1, bf16, L2 flushed: B = W^T materialized (today) vs W read transposed (op T)',
  '| K -> N | materialized us | GB/s | op T us | GB/s |',
  '|---|---|---|---|---|',
  ...gemvs.map((g) => `| ${g.K} -> ${g.N} | ${(g.materialized * 1e3).toFixed(1)} | ${((g.N * g.K * 2) / g.materialized / 1e6).toFixed(0)} | ${(g.inPlace * 1e3).toFixed(1)} | ${((g.N * g.K * 2) / g.inPlace / 1e6).toFixed(0)} |`),
];
console.log(lines.join('\n'));
if (failures.length) console.log(failures.join('\n'));
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify({ card, weightBytes, boundMs, rows, failures, gemvs, kernelSum, kernelCount, topKernels, graph: gs, plain: ps }, null, 2));
