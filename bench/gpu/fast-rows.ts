// The row-wise fast ops on the GPU (issue 6's bench): rmsNorm, rope and crossEntropy, forward
// and forward + backward, at the sizes of the Liger/Unsloth kernel benchmarks (8192 tokens,
// hidden 4096, 32 + 8 heads of 128, a 128256-word vocabulary; bfloat16), beside PyTorch eager
// (the Hugging Face Llama code) and torch.compile of the same code, plus crossEntropy's peak
// memory. bench/gpu/fast-rows.sh runs both sides and prints the table:
//   node --import tsx bench/gpu/fast-rows.ts --workloads   the workloads as JSON (for fast_rows.py)
//   node --import tsx bench/gpu/fast-rows.ts [--torch F]   times lathe; prints the table (torch's numbers from F)
//   --smoke: tiny sizes on the CPU with the host clock (checks the script without a GPU).
// Timing as bench:gpu (timer.ts): CUDA events, median of BENCH_REPS (15) after 3 warm-up runs,
// each after a 256 MiB memset that flushes L2 and hides the host's queueing.
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';
import { gpuUnavailableReason, probe } from '../../src/backend/cuda/index.js';
import { deviceTimer, hostTimer, type Timer } from './timer.js';
import { fmtTime } from './report.js';

export interface FastWorkload {
  key: string;
  op: 'rmsNorm' | 'rope' | 'crossEntropy';
  pass: 'fwd' | 'fwd+bwd';
  /** rmsNorm: (tokens, hidden); rope: q (B, Hq, T, D) and k (B, Hk, T, D); crossEntropy: (tokens, vocab). */
  shapes: number[][];
  label: string;
}

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const REPS = Number(process.env.BENCH_REPS ?? 15), WARMUP = 3;

function workloads(): FastWorkload[] {
  const [tok, hid, V, T] = smoke ? [64, 256, 1000, 32] : [8192, 4096, 128256, 8192];
  const norm = [[tok, hid]], rope = [[1, 32, T, 128], [1, 8, T, 128]], ce = [[tok, V]];
  const out: FastWorkload[] = [];
  for (const pass of ['fwd', 'fwd+bwd'] as const) {
    out.push({ key: `rmsNorm_${pass}`, op: 'rmsNorm', pass, shapes: norm, label: `rmsNorm (${norm[0]}) bf16` });
    out.push({ key: `rope_${pass}`, op: 'rope', pass, shapes: rope, label: `rope q (${rope[0]}) + k (${rope[1]}) bf16` });
    out.push({ key: `crossEntropy_${pass}`, op: 'crossEntropy', pass, shapes: ce, label: `crossEntropy (${ce[0]}) bf16` });
  }
  return out;
}

if (args.includes('--workloads')) {
  console.log(JSON.stringify({ reps: REPS, warmup: WARMUP, smoke, workloads: workloads() }));
  process.exit(0);
}

const why = gpuUnavailableReason();
if (why && !smoke) {
  console.error(`fast-rows needs a usable NVIDIA GPU, and there is none here: ${why} (--smoke checks the script on the CPU)`);
  process.exit(1);
}
if (!why) mx.setDefaultDevice(mx.gpu);
const log = (line: string) => console.error(line);

/** sin(0.7311 · (i mod 1000003)) in [-1, 1], as bench:gpu and fast_rows.py make them. */
function filled(shape: number[], dtype: mx.DType = mx.bfloat16): mx.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const y = mx.reshape(mx.astype(mx.sin(mx.multiply(mx.remainder(mx.arange(n), 1_000_003), 0.7311)), dtype), shape);
  mx.eval(y);
  return y;
}

/** Builds the workload's lazy results from inputs made once. */
function prepare(w: FastWorkload): { build: () => mx.Array[]; free: () => void } {
  const bwd = w.pass === 'fwd+bwd';
  const vjp = (f: (...xs: mx.Array[]) => mx.Array[], xs: mx.Array[], cts: mx.Array[]) => () => {
    if (!bwd) return f(...xs);
    const [outs, grads] = mx.vjp(f, xs, cts);
    return [...(outs as mx.Array[]), ...(grads as mx.Array[])];
  };
  if (w.op === 'rmsNorm') {
    const [shape] = w.shapes, x = filled(shape), wt = mx.add(filled([shape[1]]), 1.5), dy = filled(shape);
    mx.eval(wt);
    return { build: vjp((x, wt) => [fast.rmsNorm(x, wt, 1e-5)], [x, wt], [dy]), free: () => mx.dispose([x, wt, dy]) };
  }
  if (w.op === 'rope') {
    const [q, k, dq, dk] = [...w.shapes, ...w.shapes].map((s) => filled(s));
    const f = (q: mx.Array, k: mx.Array) => [fast.rope(q, 128, { base: 500000 }), fast.rope(k, 128, { base: 500000 })];
    return { build: vjp(f, [q, k], [dq, dk]), free: () => mx.dispose([q, k, dq, dk]) };
  }
  const [[N, V]] = w.shapes;
  const z = filled([N, V]), t = mx.array(Int32Array.from({ length: N }, (_, i) => (i * 7919) % V));
  mx.eval(t);
  const loss = (z: mx.Array) => fast.crossEntropy(z, t);
  return {
    build: bwd ? () => mx.valueAndGrad(loss)(z) : () => [loss(z)],
    free: () => mx.dispose([z, t]),
  };
}

interface Result { ms?: number; peak?: number; error?: string }

/** Median device time; for crossEntropy forward + backward also the peak bytes above the inputs. */
function time(timer: Timer, w: FastWorkload): Result {
  const { build, free } = prepare(w);
  try {
    const { ms } = timer.median(build, (r) => mx.eval(r), (r) => mx.dispose(r));
    let peak: number | undefined;
    if (w.op === 'crossEntropy' && w.pass === 'fwd+bwd') {
      timer.sync();
      mx.resetPeakMemory();
      const base = mx.getActiveMemory();
      const r = build();
      mx.eval(r);
      timer.sync();
      peak = mx.getPeakMemory() - base;
      mx.dispose(r);
    }
    return { ms, peak };
  } catch (e) {
    return { error: (e instanceof Error ? e.message : String(e)).split('\n')[0] };
  } finally {
    free();
    mx.clearCache();
  }
}

interface TorchSide { torch?: string; device?: string; error?: string; results?: Record<string, { eager?: number; compile?: number; fused?: number; eagerPeak?: number; compilePeak?: number; error?: string }> }

const list = workloads();
const timer = why ? hostTimer(REPS, WARMUP) : deviceTimer(REPS, WARMUP);
const lathe: Record<string, Result> = {};
for (const w of list) {
  lathe[w.key] = time(timer, w);
  const r = lathe[w.key];
  log(`lathe  ${w.key}: ${r.ms !== undefined ? `${r.ms.toFixed(4)} ms` : `n/a (${r.error})`}`);
}
timer.close();

const ti = args.indexOf('--torch');
let torch: TorchSide = { error: 'not run (pass --torch FILE, or use fast-rows.sh)' };
if (ti >= 0) {
  try { torch = JSON.parse(readFileSync(args[ti + 1], 'utf8').trim().split('\n').pop()!) as TorchSide; } catch (e) { torch = { error: `no torch results: ${(e as Error).message}` }; }
}

const x = (a?: number, b?: number) => (a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : 'n/a');
const mib = (b?: number) => (b === undefined ? 'n/a' : `${(b / 2 ** 20).toFixed(0)} MiB`);
const info = why ? null : (probe() as Extract<ReturnType<typeof probe>, { ok: true }>).info;
console.log(`\n### Row-wise fast ops on ${info ? `${info.name} (${info.sms} SMs)` : 'the CPU (smoke check)'}\n`);
console.log(`${torch.torch ? `PyTorch ${torch.torch}` : `PyTorch: ${torch.error}`}; median of ${REPS} after ${WARMUP} warm-up runs, ${timer.how}. ` +
  'Speed = torch time / lathe time. Eager is the Hugging Face Llama code (RMSNorm, rotary embedding computing cos/sin, loss on logits.float()); compile is torch.compile of the same.\n');
console.log('| op | pass | lathe | torch eager | speed vs eager (≥ 2x) | torch.compile | speed vs compile (≥ 1x) |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
const notes: string[] = [];
for (const w of list) {
  const l = lathe[w.key], t = torch.results?.[w.key] ?? {};
  console.log(`| ${w.label} | ${w.pass} | ${fmtTime(l.ms)} | ${fmtTime(t.eager)} | ${x(t.eager, l.ms)} | ${fmtTime(t.compile)} | ${x(t.compile, l.ms)} |`);
  if (l.error) notes.push(`lathe ${w.key}: ${l.error}`);
  if (t.error) notes.push(`torch ${w.key}: ${t.error}`);
  if (t.fused !== undefined) notes.push(`${w.key}: torch's fused F.rms_norm takes ${fmtTime(t.fused)} (${x(t.fused, l.ms)} lathe's time).`);
  if (l.peak !== undefined || t.eagerPeak !== undefined)
    notes.push(`${w.label} forward + backward peak memory above the inputs: lathe ${mib(l.peak)}, torch eager ${mib(t.eagerPeak)}, torch.compile ${mib(t.compilePeak)}.`);
}
if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
