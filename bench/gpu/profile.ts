// Where the device time of the [lm] workloads goes, kernel by kernel (kernel-times.ts):
// prefill of 2048 tokens (model.forward, all logits, as lm.ts times it) and one compiled
// decode step (batch 1, static cache 1024, launched kernel by kernel) of the Llama-3.2-1B
// shape with random bf16 weights. Prints the largest kernels and the launches of one layer.
//   bash .gpu/enter.sh npx tsx bench/gpu/profile.ts [--only prefill,decode] [--batch B]
import * as mx from '../../src/index.js';
import { cudaBackend, gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { cudaAllocator } from '../../src/backend/cuda/allocator.js';
import { compile } from '../../src/core/transforms/compile.js';
import { makeStaticCache } from '../../src/lm/static-cache.js';
import { stepBody } from '../../src/lm/compiled-step.js';
import { LLAMA_1B, randomModel } from './random-model.js';
import { formatKernelTimes, kernelTimes } from './kernel-times.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const only = new Set(opt('--only', 'prefill,decode').split(','));
const B = Number(opt('--batch', '1'));
const why = gpuUnavailableReason();
if (why) { console.log(`bench/gpu/profile.ts: no GPU (${why})`); process.exit(0); }
mx.setDefaultDevice(mx.gpu);
const model = randomModel(LLAMA_1B);

/** The launches of one layer: between the 2nd and 3rd launch of the first kernel that runs once per layer. */
function oneLayer(seq: [string, number][]): string {
  const count = new Map<string, number>();
  for (const [k] of seq) count.set(k, (count.get(k) ?? 0) + 1);
  const marker = seq.find(([k]) => count.get(k) === LLAMA_1B.num_hidden_layers)?.[0];
  const at = seq.map(([k], i) => (k === marker ? i : -1)).filter((i) => i >= 0);
  if (at.length < 3) return '';
  return seq.slice(at[1], at[2]).map(([k, ms]) => `  ${k.padEnd(44)} ${(ms * 1e3).toFixed(1).padStart(8)} us`).join('\n');
}

if (only.has('prefill')) {
  const x = mx.random.randint(0, 1000, [B, 2048], mx.int32, mx.random.key(3));
  mx.eval(x);
  const run = () => { const cache = model.makeCache(); const l = model.forward(x, cache); mx.eval(l); mx.synchronize(); mx.dispose([l, ...cache.flatMap((c) => c.state)]); };
  for (let i = 0; i < 2; i++) run();
  const t0 = performance.now(); run(); const wall = performance.now() - t0;
  // Host phases: building the lazy graph, queuing it (eval returns before the device is done), waiting.
  for (let i = 0; i < 3; i++) {
    const cache = model.makeCache();
    const a = performance.now();
    const l = model.forward(x, cache);
    const b = performance.now();
    mx.eval(l);
    const c = performance.now();
    mx.synchronize();
    const d = performance.now();
    console.log(`prefill host: forward (build${' + per-layer evals'}) ${(b - a).toFixed(2)} ms, eval ${(c - b).toFixed(2)} ms, synchronize ${(d - c).toFixed(2)} ms, total ${(d - a).toFixed(2)} ms`);
    mx.dispose([l, ...cache.flatMap((c) => c.state)]);
  }
  // Host time per primitive while queuing a prefill (what the device may wait for).
  {
    const per = new Map<string, [number, number]>();
    const evalNode = cudaBackend.evalNode.bind(cudaBackend);
    cudaBackend.evalNode = (node) => {
      const t = performance.now();
      evalNode(node);
      const p = per.get(node.prim.name) ?? [0, 0];
      per.set(node.prim.name, [p[0] + performance.now() - t, p[1] + 1]);
    };
    // New device memory taken from the driver while queuing (cuMemAlloc: slow, and none is expected once warm).
    const alloc = cudaAllocator() as unknown as { fresh: (size: number, nbytes: number) => bigint };
    const fresh = alloc.fresh.bind(alloc);
    const sizes: number[] = [];
    alloc.fresh = (size, nbytes) => { sizes.push(size); return fresh(size, nbytes); };
    const cache = model.makeCache();
    const a = performance.now();
    const l = model.forward(x, cache);
    mx.eval(l);
    const total = performance.now() - a;
    alloc.fresh = fresh;
    console.log(`prefill host: ${sizes.length} allocations from the driver (${(sizes.reduce((s, n) => s + n, 0) / 2 ** 20).toFixed(1)} MiB): ${sizes.slice(0, 12).map((n) => (n / 2 ** 20).toFixed(2)).join(', ')} MiB`);
    mx.synchronize();
    cudaBackend.evalNode = evalNode;
    mx.dispose([l, ...cache.flatMap((c) => c.state)]);
    const inEval = [...per.values()].reduce((s, [ms]) => s + ms, 0);
    console.log(`prefill host: ${total.toFixed(2)} ms to queue, ${inEval.toFixed(2)} ms of it in the backend's evalNode, the rest building the graph and scheduling`);
    for (const [k, [ms, c]] of [...per.entries()].sort((p, q) => q[1][0] - p[1][0]).slice(0, 12))
      console.log(`  ${k.padEnd(28)} ${ms.toFixed(3).padStart(8)} ms ${String(c).padStart(5)}x ${((ms / c) * 1e3).toFixed(1).padStart(8)} us each`);
  }
  let logits: mx.Array | null = null, cache = model.makeCache();
  const t = kernelTimes(() => { logits = model.forward(x, cache); mx.eval(logits); }, 300);
  mx.dispose([logits!, ...cache.flatMap((c) => c.state)]);
  console.log(`## prefill ${B} x 2048: wall ${wall.toFixed(2)} ms; ${formatKernelTimes(t, 25)}`);
  console.log(`one layer:\n${oneLayer(t.sequence)}`);
}

if (only.has('decode')) {
  const fn = compile(stepBody(model), { donateArgnums: [2, 3], cudaGraph: false });
  const cache = makeStaticCache(model, 1024);
  mx.tidy(() => { model.forward(mx.array(Array.from({ length: B }, () => Array.from({ length: 16 }, (_, i) => i + 1)), mx.int32), cache); return cache.map((c) => c.state); });
  let keys = cache.map((c) => c.keys!), values = cache.map((c) => c.values!);
  const position = mx.keep(mx.array(16, mx.int32));
  const tok = mx.keep(mx.array(Array.from({ length: B }, () => [7]), mx.int32));
  const step = () => { const [l, , k2, v2] = fn(tok, position, keys, values); mx.eval(l, k2, v2); keys = k2.map((a) => mx.keep(a)); values = v2.map((a) => mx.keep(a)); l.dispose(); };
  for (let i = 0; i < 3; i++) step();
  const t = kernelTimes(step, 60);
  console.log(`## decode step, batch ${B}, cache 1024 (compiled, kernel by kernel): ${formatKernelTimes(t, 25)}`);
  console.log(`one layer:\n${oneLayer(t.sequence)}`);
}
