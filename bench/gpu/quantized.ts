// Quantized matmul on the GPU (bash bench/gpu/quantized.sh on the GPU machine): lathe's
// 4-bit (and one 8-bit) quantizedMatmul against the bf16 product it replaces, lathe's
// (cuBLAS) and PyTorch's, for the Llama-3-8B MLP shapes 4096 x 14336: decode (M = 1, 8,
// 32) and prefill (M = 512). Timing as bench:gpu (timer.ts: CUDA events, L2 flushed before
// each run, median). GB/s counts the bytes a product must read (the packed weight, scales
// and biases, or the bf16 weight, plus x) and write; "% peak" is against the card's HBM
// bandwidth and against a device-to-device copy measured here. Prints one markdown table.
import * as mx from '../../src/index.js';
import { cudaBackend, gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { check } from '../../src/backend/cuda/ffi/libcuda.js';
import { qmvLaunches, qmvTuning } from '../../src/backend/cuda/kernels/fast/quantized-gemv.js';
import { deviceTimer, Timer } from './timer.js';
import { torchMatmuls } from './torch-matmul.js';

const REPS = Number(process.env.BENCH_REPS ?? 30), WARMUP = 5, GROUP = 64;

interface Row { key: string; what: string; M: number; K: number; N: number; bits: number; transpose: boolean }
const rows: Row[] = [
  { key: 'up1', what: 'decode 4096 → 14336', M: 1, K: 4096, N: 14336, bits: 4, transpose: true },
  { key: 'down1', what: 'decode 14336 → 4096', M: 1, K: 14336, N: 4096, bits: 4, transpose: true },
  { key: 'up1kn', what: 'decode 4096 → 14336, weight (K, N)', M: 1, K: 4096, N: 14336, bits: 4, transpose: false },
  { key: 'up1b8', what: 'decode 4096 → 14336, 8-bit', M: 1, K: 4096, N: 14336, bits: 8, transpose: true },
  { key: 'up8', what: 'M = 8, 4096 → 14336', M: 8, K: 4096, N: 14336, bits: 4, transpose: true },
  { key: 'up2', what: 'M = 2, 4096 → 14336', M: 2, K: 4096, N: 14336, bits: 4, transpose: true },
  { key: 'up32', what: 'M = 32, 4096 → 14336', M: 32, K: 4096, N: 14336, bits: 4, transpose: true },
  { key: 'up512', what: 'prefill M = 512, 4096 → 14336', M: 512, K: 4096, N: 14336, bits: 4, transpose: true },
  { key: 'down512', what: 'prefill M = 512, 14336 → 4096', M: 512, K: 14336, N: 4096, bits: 4, transpose: true },
];

/** sin(0.7311 · (i mod 1000003)) in bfloat16, as torch's side makes it. */
function filled(shape: number[]): mx.Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const y = mx.reshape(mx.astype(mx.sin(mx.multiply(mx.remainder(mx.arange(n), 1_000_003), 0.7311)), mx.bfloat16), shape);
  mx.eval(y);
  return y;
}

const timeIt = (timer: Timer, build: () => mx.Array) => timer.median(build, (r) => mx.eval(r), (r) => r.dispose());

/** Device-to-device copy of 1 GiB: the bandwidth a streaming kernel can reach on this card (read + write). */
function copyRate(timer: Timer): number {
  const rt = cudaBackend.runtime, d = rt.driver, bytes = 2 ** 30, p = new BigUint64Array(1);
  check(d, d.cuMemAlloc(p, bytes), 'cuMemAlloc');
  const src = p[0];
  check(d, d.cuMemAlloc(p, bytes), 'cuMemAlloc');
  const dst = p[0];
  try {
    const { ms } = timer.median(() => null, () => check(d, d.cuMemcpyDtoDAsync(dst, src, bytes, rt.stream), 'cuMemcpyDtoDAsync'), () => {});
    return (2 * bytes) / (ms * 1e6);
  } finally { rt.synchronize(); d.cuMemFree(src); d.cuMemFree(dst); }
}

/** The card's HBM bandwidth (GB/s) from its name: H100 SXM 3350, H100 PCIe 2000, H100 NVL 3900, H200 4800. */
function peakOf(name: string): number | null {
  if (/H200/.test(name)) return 4800;
  if (/H100/.test(name)) return /PCIe/i.test(name) ? 2000 : /NVL/.test(name) ? 3900 : 3350;
  return null;
}

function main(): void {
  const why = gpuUnavailableReason();
  if (why) { console.log(`bench/gpu/quantized: no GPU (${why})`); return; }
  const info = cudaBackend.runtime.info;
  const timer = deviceTimer(REPS, WARMUP);
  const copy = copyRate(timer), peak = peakOf(info.name);
  const torch = torchMatmuls(rows.map((r) => ({ key: r.key, M: r.M, K: r.K, N: r.N })), REPS, WARMUP);
  const out: string[] = [], variants: string[] = [];
  const us = (ms: number) => (ms * 1e3).toFixed(1);
  for (const r of rows) {
    const { M, K, N, bits, transpose } = r;
    const x = filled([M, K]);
    const w = filled(transpose ? [N, K] : [K, N]);
    const [wq, s, b] = mx.quantize(w, GROUP, bits);
    mx.eval(wq, s, b);
    w.dispose();
    const launches = qmvLaunches.t + qmvLaunches.n;
    const { ms: qms, host } = timeIt(timer, () => mx.quantizedMatmul(x, wq, s, b, transpose, GROUP, bits));
    const path = qmvLaunches.t + qmvLaunches.n > launches ? 'GEMV' : 'dequantize + cuBLAS';
    // Accuracy at full size: against x @ dequantize(W) in float32.
    const y = mx.astype(mx.quantizedMatmul(x, wq, s, b, transpose, GROUP, bits), mx.float32);
    const wf = mx.dequantize(wq, mx.astype(s, mx.float32), mx.astype(b, mx.float32), GROUP, bits);
    const ref = mx.matmul(mx.astype(x, mx.float32), transpose ? mx.transpose(wf) : wf);
    const err = (mx.max(mx.abs(mx.subtract(y, ref))).item() as number) / (mx.max(mx.abs(ref)).item() as number);
    [y, wf, ref].forEach((a) => a.dispose());
    // The (N, K) GEMV's other register stages and lanes per row, for the record.
    if (path === 'GEMV' && transpose && M === 1) {
      const cells: string[] = [];
      for (const stages of [2, 3]) for (const lanes of [8, 16, 32]) {
        Object.assign(qmvTuning, { stages, lanes });
        cells.push(us(timeIt(timer, () => mx.quantizedMatmul(x, wq, s, b, transpose, GROUP, bits)).ms));
      }
      Object.assign(qmvTuning, { stages: 0, lanes: 0 });
      variants.push(`| ${r.what} | ${us(qms)} | ${cells.join(' | ')} |`);
    }
    let dqms = 0;
    if (path !== 'GEMV') dqms = timeIt(timer, () => mx.dequantize(wq, s, b, GROUP, bits)).ms;
    [wq, s, b].forEach((a) => a.dispose());
    const wb = filled([K, N]);
    const bms = timeIt(timer, () => mx.matmul(x, wb)).ms;
    wb.dispose(); x.dispose();
    mx.clearCache();
    const tms = 'results' in torch ? torch.results[r.key]?.ms : undefined;
    const qBytes = (N * K * bits) / 8 + 2 * 2 * (N * K) / GROUP + 2 * (M * K + M * N);
    const gbs = qBytes / (qms * 1e6);
    const flops = 2 * M * N * K;
    const note = `${path === 'GEMV' ? '' : `dequantize ${us(dqms)} µs of it; ${(flops / (qms * 1e9)).toFixed(0)} vs ${(flops / (bms * 1e9)).toFixed(0)} TFLOP/s bf16; `}max rel. error ${err.toExponential(1)}; host ${us(host)} µs`;
    out.push(`| ${r.what} | ${path} | ${us(qms)} | ${gbs.toFixed(0)} | ${peak ? `${((100 * gbs) / peak).toFixed(0)}%` : 'n/a'} / ${((100 * gbs) / copy).toFixed(0)}% | ${us(bms)} | ${tms !== undefined ? us(tms) : 'n/a'} | ${(bms / qms).toFixed(2)}x | ${tms !== undefined ? `${(tms / qms).toFixed(2)}x` : 'n/a'} | ${note} |`);
    console.error(`done ${r.key}: ${us(qms)} us`);
  }
  timer.close();
  const tv = 'results' in torch ? `torch ${torch.torch}` : `torch n/a (${torch.error})`;
  console.log(`\n### quantizedMatmul, ${info.name} (${new Date().toISOString().slice(0, 10)}; group ${GROUP}, bf16 x; ${tv}; median of ${REPS}, L2 flushed)\n`);
  console.log(`HBM: ${peak ?? 'n/a'} GB/s nominal; device-to-device copy measured ${copy.toFixed(0)} GB/s (read + write).\n`);
  console.log('| workload | lathe path | lathe quantized µs | GB/s | % of HBM / of copy | lathe bf16 µs | torch bf16 µs | vs lathe bf16 | vs torch bf16 | note |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const l of out) console.log(l);
  console.log('\nThe (N, K) GEMV at M = 1 by register stages and lanes per weight row (µs):\n');
  console.log('| workload | chosen | 2 stages, 8 lanes | 2, 16 | 2, 32 | 3 stages, 8 lanes | 3, 16 | 3, 32 |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const l of variants) console.log(l);
}

main();
