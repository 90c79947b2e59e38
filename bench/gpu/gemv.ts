// The float GEMV on the GPU (bash bench/gpu/gemv.sh on the GPU machine): x (1, K) @ w.T with
// w (N, K) bf16, the decode step's products for the Llama-3.2-1B and Llama-3.1-8B shapes:
// lathe's GEMV (kernels/gemv.ts), lathe's cuBLAS path (gemvTuning.enabled = false, as
// LATHE_CUDA_GEMV=0) and torch.matmul (matmul_torch.py). Timing as bench:gpu (timer.ts: CUDA
// events, L2 flushed before each run, median). GB/s counts the weight, x and y once. A
// second table times the GEMV's other threads per row and loads per round.
import * as mx from '../../src/index.js';
import { cudaBackend, gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { gemvLaunches, gemvShape, gemvTuning } from '../../src/backend/cuda/kernels/gemv.js';
import { deviceTimer, Timer } from './timer.js';
import { torchMatmuls } from './torch-matmul.js';

const REPS = Number(process.env.BENCH_REPS ?? 30), WARMUP = 5;

interface Shape { key: string; model: string; K: number; N: number }
const shapes: Shape[] = [
  { key: '1b_qo', model: '1B q/o', K: 2048, N: 2048 },
  { key: '1b_kv', model: '1B k/v', K: 2048, N: 512 },
  { key: '1b_up', model: '1B gate/up', K: 2048, N: 8192 },
  { key: '1b_down', model: '1B down', K: 8192, N: 2048 },
  { key: '1b_head', model: '1B lm head', K: 2048, N: 128256 },
  { key: '8b_qo', model: '8B q/o', K: 4096, N: 4096 },
  { key: '8b_kv', model: '8B k/v', K: 4096, N: 1024 },
  { key: '8b_up', model: '8B gate/up', K: 4096, N: 14336 },
  { key: '8b_down', model: '8B down', K: 14336, N: 4096 },
];
const variants: [number, number][] = [[16, 8], [32, 4], [32, 8], [32, 16], [64, 8], [128, 8], [256, 4]];

/** sin(0.7311 · (i mod 1000003)) in bfloat16, as torch's side makes it. */
function filled(shape: number[]): mx.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const y = mx.reshape(mx.astype(mx.sin(mx.multiply(mx.remainder(mx.arange(n), 1_000_003), 0.7311)), mx.bfloat16), shape);
  mx.eval(y);
  return y;
}

const timeIt = (timer: Timer, build: () => mx.Array) => timer.median(build, (r) => mx.eval(r), (r) => r.dispose()).ms;

function main(): void {
  const why = gpuUnavailableReason();
  if (why) { console.log(`bench/gpu/gemv: no GPU (${why})`); return; }
  const info = cudaBackend.runtime.info;
  const timer = deviceTimer(REPS, WARMUP);
  const torch = torchMatmuls(shapes.map((s) => ({ key: s.key, M: 1, K: s.K, N: s.N, transposeB: true })), REPS, WARMUP);
  const us = (ms: number) => (ms * 1e3).toFixed(1);
  const table: string[] = [], tune: string[] = [];
  for (const s of shapes) {
    const { K, N } = s;
    const x = filled([1, K]), w = filled([N, K]);
    const build = () => mx.matmul(x, mx.transpose(w));
    const before = gemvLaunches.count;
    const g = timeIt(timer, build);
    const ran = gemvLaunches.count > before;
    gemvTuning.enabled = false;
    const c = timeIt(timer, build);
    const err = (() => {
      const ref = mx.astype(build(), mx.float32);
      mx.eval(ref); // through cuBLAS, before the switch below
      gemvTuning.enabled = true;
      const y = mx.astype(build(), mx.float32);
      const e = (mx.max(mx.abs(mx.subtract(y, ref))).item() as number) / (mx.max(mx.abs(ref)).item() as number);
      [y, ref].forEach((a) => a.dispose());
      return e;
    })();
    const cells: string[] = [];
    for (const [team, unroll] of variants) {
      Object.assign(gemvTuning, { team, unroll });
      cells.push(us(timeIt(timer, build)));
    }
    Object.assign(gemvTuning, { team: 0, unroll: 0 });
    const t = 'results' in torch ? torch.results[s.key]?.ms : undefined;
    const bytes = 2 * (N * K + K + N);
    const gbs = (ms: number) => (bytes / (ms * 1e6)).toFixed(0);
    const chosen = gemvShape(N, K / 8, 8, info.sms);
    table.push(`| ${s.model} | ${K} → ${N} | ${(bytes / 2 ** 20).toFixed(1)} | ${ran ? us(g) : 'n/a'} (${gbs(g)}) | ${us(c)} (${gbs(c)}) | ${t !== undefined ? `${us(t)} (${gbs(t)})` : 'n/a'} | ${(c / g).toFixed(2)}x | ${t !== undefined ? `${(t / g).toFixed(2)}x` : 'n/a'} | ${chosen.team}/${chosen.threads} | ${err.toExponential(1)} |`);
    tune.push(`| ${s.model} ${K} → ${N} | ${us(g)} | ${cells.join(' | ')} |`);
    x.dispose(); w.dispose();
    mx.clearCache();
    console.error(`done ${s.key}: gemv ${us(g)} us, cuBLAS ${us(c)} us`);
  }
  timer.close();
  const tv = 'results' in torch ? `torch ${torch.torch}` : `torch n/a (${torch.error})`;
  console.log(`\n### float GEMV, ${info.name} (${new Date().toISOString().slice(0, 10)}; M = 1, bf16; ${tv}; median of ${REPS}, L2 flushed)\n`);
  console.log('| shape | K → N | weight MiB | lathe GEMV µs (GB/s) | lathe cuBLAS µs (GB/s) | torch µs (GB/s) | vs cuBLAS | vs torch | team/block | rel. diff vs cuBLAS |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const l of table) console.log(l);
  console.log('\nThe GEMV by threads per row (team) and 16-byte loads per round (unroll), µs:\n');
  console.log(`| shape | chosen | ${variants.map(([t, u]) => `${t}, ${u}`).join(' | ')} |`);
  console.log(`| --- | ---: | ${variants.map(() => '---:').join(' | ')} |`);
  for (const l of tune) console.log(l);
}

main();
