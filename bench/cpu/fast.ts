// lathe/fast on the CPU: each fused kernel beside its reference (the same op from basic ops),
// forward and forward + backward, median of BENCH_REPS runs after warm-up, and peak memory
// for crossEntropy. `node --import tsx bench/cpu/fast.ts` prints a markdown table;
// BENCH_ONLY=rope,crossEntropy picks ops.
import { cpus } from 'node:os';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
let seed = 0;
const randn = (shape: number[], dtype: mx.DTypeName = 'float32') =>
  mx.astype(mx.random.normal(shape, 'float32', null, null, mx.random.key(seed++)), dtype);

function medianMs(fn: () => void): number {
  fn(); fn();
  const t: number[] = [];
  for (let i = 0; i < REPS; i++) { const s = performance.now(); fn(); t.push(performance.now() - s); }
  return t.sort((a, b) => a - b)[t.length >> 1];
}

type Op = (...xs: mx.Array[]) => mx.Array;
interface Row { name: string; size: string; op: Op; ref: Op; inputs: mx.Array[]; grad?: number[] }

/** Runs f on the inputs and evaluates everything it returns. */
const run = (f: Op, xs: mx.Array[]) => () => { const y = f(...xs); mx.eval(y); mx.dispose(y); };
const runGrad = (f: Op, xs: mx.Array[], argnums: number[]) => {
  const g = mx.valueAndGrad((...a: mx.Array[]) => mx.sum(mx.astype(f(...a), 'float32')), argnums);
  return () => { const r = g(...xs); mx.eval(r); mx.dispose(r); };
};

const rows: Row[] = [];
{
  const x = randn([4096, 4096]), w = randn([4096]), b = randn([4096]);
  rows.push({ name: 'rmsNorm', size: '(4096, 4096) f32', op: (x, w) => fast.rmsNorm(x, w, 1e-5), ref: (x, w) => fast.reference.rmsNorm(x, w, 1e-5), inputs: [x, w], grad: [0, 1] });
  rows.push({ name: 'layerNorm', size: '(4096, 4096) f32', op: (x, w, b) => fast.layerNorm(x, w, b, 1e-5), ref: (x, w, b) => fast.reference.layerNorm(x, w, b, 1e-5), inputs: [x, w, b], grad: [0, 1, 2] });
  const xb = randn([4096, 4096], 'bfloat16'), wb = randn([4096], 'bfloat16');
  rows.push({ name: 'rmsNorm', size: '(4096, 4096) bf16', op: (x, w) => fast.rmsNorm(x, w, 1e-5), ref: (x, w) => fast.reference.rmsNorm(x, w, 1e-5), inputs: [xb, wb], grad: [0, 1] });
}
{
  const x = randn([1, 32, 1024, 128]);
  rows.push({ name: 'rope', size: '(1, 32, 1024, 128) f32, offset 7', op: (x) => fast.rope(x, 128, { offset: 7 }), ref: (x) => fast.reference.rope(x, 128, { offset: 7 }), inputs: [x], grad: [0] });
}
{
  const q = randn([1, 8, 1024, 64]), k = randn([1, 8, 1024, 64]), v = randn([1, 8, 1024, 64]);
  const causal = { mask: 'causal' as const };
  rows.push({ name: 'scaledDotProductAttention', size: '(1, 8, 1024, 64) f32 causal', op: (q, k, v) => fast.scaledDotProductAttention(q, k, v, causal), ref: (q, k, v) => fast.reference.scaledDotProductAttention(q, k, v, causal), inputs: [q, k, v], grad: [0, 1, 2] });
  const qd = randn([1, 32, 1, 128]), kd = randn([1, 8, 4096, 128]), vd = randn([1, 8, 4096, 128]);
  rows.push({ name: 'scaledDotProductAttention', size: 'decode: 1 query, 4096 keys, 32/8 heads, D 128', op: (q, k, v) => fast.scaledDotProductAttention(q, k, v), ref: (q, k, v) => fast.reference.scaledDotProductAttention(q, k, v), inputs: [qd, kd, vd] });
}
{
  const z = mx.tile(randn([8, 32000]), [64, 1]), t = mx.remainder(mx.multiply(mx.arange(512), 7919), 32000);
  rows.push({ name: 'crossEntropy', size: '(512, 32000) f32', op: (z) => fast.crossEntropy(z, t), ref: (z) => fast.reference.crossEntropy(z, t), inputs: [z], grad: [0] });
}
{
  const g = randn([2048, 8192]), u = randn([2048, 8192]);
  rows.push({ name: 'swiglu', size: '(2048, 8192) f32', op: (a, b) => fast.swiglu(a, b), ref: (a, b) => fast.reference.swiglu(a, b), inputs: [g, u], grad: [0, 1] });
  rows.push({ name: 'geglu', size: '(2048, 8192) f32', op: (a, b) => fast.geglu(a, b), ref: (a, b) => fast.reference.geglu(a, b), inputs: [g, u], grad: [0, 1] });
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const lines = [
  `CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}; median of ${REPS}; ms (reference / fused = speedup)`,
  '',
  '| op | size | forward: fused | reference | speedup | fwd + bwd: fused | reference | speedup |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
];
const only = process.env.BENCH_ONLY?.split(',');
for (const r of rows) {
  if (only && !only.includes(r.name)) continue;
  mx.eval(r.inputs);
  const f = medianMs(run(r.op, r.inputs)), fr = medianMs(run(r.ref, r.inputs));
  let back = '| – | – | – |';
  if (r.grad) {
    const b = medianMs(runGrad(r.op, r.inputs, r.grad)), br = medianMs(runGrad(r.ref, r.inputs, r.grad));
    back = `| ${fmt(b)} | ${fmt(br)} | ${(br / b).toFixed(2)}x |`;
  }
  lines.push(`| ${r.name} | ${r.size} | ${fmt(f)} | ${fmt(fr)} | ${(fr / f).toFixed(2)}x ${back}`);
  console.log(lines[lines.length - 1]);
}

// Peak memory of one loss-and-gradient step of crossEntropy, above the live inputs.
const ce = rows.find((r) => r.name === 'crossEntropy')!;
if (!only || only.includes('crossEntropy')) for (const [name, f] of [['fused', ce.op], ['reference', ce.ref]] as const) {
  mx.clearCache();
  const base = mx.getActiveMemory();
  mx.resetPeakMemory();
  runGrad(f, ce.inputs, [0])();
  lines.push(`crossEntropy ${ce.size} loss + gradient, peak above inputs: ${name} ${((mx.getPeakMemory() - base) / 2 ** 20).toFixed(1)} MiB`);
}
console.log(['', ...lines].join('\n'));
