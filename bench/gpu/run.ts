// `npm run bench:gpu`: lathe on the GPU beside PyTorch on the same card, in one process
// run. Times lathe first (workloads.ts), then spawns torch_bench.py on the same workloads,
// prints one table and appends it to bench/RESULTS.md with the card, the date and the
// versions. Flags:
//   --out FILE   also write the raw numbers (JSON) to FILE and the markdown beside it (.md)
//   --no-write   do not append to bench/RESULTS.md
//   --smoke      tiny sizes on whatever device there is (the CPU here): checks the script
// BENCH_REPS sets the timed repetitions (default 15, after 3 warm-up runs).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import { gpuUnavailableReason, probe } from '../../src/backend/cuda/index.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { benchLathe, Measured } from './lathe_bench.js';
import { deviceTimer, hostTimer } from './timer.js';
import { workloads } from './workloads.js';
import { buildRows, markdownTable, summary, textTable } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 ? args[outIdx + 1] : null;
const smoke = flag('--smoke');
const REPS = Number(process.env.BENCH_REPS ?? 15);
const WARMUP = 3;
const log = (line: string) => console.error(line);

const why = gpuUnavailableReason();
if (why && !smoke) {
  console.error(`bench:gpu needs a usable NVIDIA GPU, and there is none here: ${why}\n(npm run bench:gpu -- --smoke checks the script on the CPU)`);
  process.exit(1);
}
const onGpu = !why;
const info = onGpu ? (probe() as Extract<ReturnType<typeof probe>, { ok: true }>).info : null;
if (onGpu) mx.setDefaultDevice(mx.gpu);
const list = workloads(smoke);

// lathe first, in this process; then its cached device memory goes back before torch runs.
const timer = onGpu ? deviceTimer(REPS, WARMUP) : hostTimer(REPS, WARMUP);
const t0 = performance.now();
const lathe = benchLathe(list, timer, onGpu, log);
timer.close();
mx.clearCache();
const kstats = onGpu ? cudaBackend.kernelCache.stats : null;
log(`lathe done in ${((performance.now() - t0) / 1e3).toFixed(1)} s${kstats ? ` (${kstats.compiled} kernels compiled in ${kstats.compileMs.toFixed(0)} ms)` : ''}`);

interface TorchOut { torch?: string; cuda?: string; device?: string; how?: string; results?: Record<string, Measured>; error?: string }
function runTorch(): TorchOut {
  const input = JSON.stringify({ reps: REPS, warmup: WARMUP, smoke, workloads: list.map((w) => ({ key: w.key, spec: w.spec })) });
  const p = spawnSync('python3', [join(here, 'torch_bench.py')], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  if (p.status !== 0 || !p.stdout.trim()) return { error: `torch_bench.py failed (${p.error?.message ?? `exit ${p.status}`})` };
  try { return JSON.parse(p.stdout.trim().split('\n').pop()!) as TorchOut; } catch { return { error: `torch_bench.py printed no JSON: ${p.stdout.slice(-200)}` }; }
}
const t1 = performance.now();
const torch = runTorch();
log(`torch done in ${((performance.now() - t1) / 1e3).toFixed(1)} s${torch.error ? `: ${torch.error}` : ''}`);
const torchResults: Record<string, Measured> = torch.results ?? {}; // when torch failed as a whole, the header says why

const rows = buildRows(list, lathe, torchResults);
const card = info ? `${info.name} (${info.arch}, ${info.sms} SMs), driver for CUDA ${info.driverVersion}, NVRTC ${info.nvrtcVersion}` : 'no GPU (smoke check on the CPU)';
const versions = `Node ${process.version}, ${torch.torch ? `PyTorch ${torch.torch} (CUDA ${torch.cuda ?? '?'})` : `no PyTorch results (${torch.error ?? 'unknown'})`}`;
const how = `median of ${REPS} after ${WARMUP} warm-up runs; ${timer.how}${torch.how && torch.how !== timer.how ? ` (torch: ${torch.how})` : ''}`;
const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
const sum = summary(rows);

console.log(`\nlathe vs PyTorch on ${card}\n${versions}; ${how}\nspeed = torch time / lathe time (above 1: lathe is faster)\n`);
console.log(textTable(rows));
console.log(`\n${sum}`);

const md = `\n## ${date} UTC: bench:gpu on ${card}${smoke ? ' [smoke check, not a benchmark]' : ''}\n\n` +
  `${versions}. ${how[0].toUpperCase()}${how.slice(1)}. Speed is torch time / lathe time; device ops exclude host overhead (the launch rows measure it).\n\n` +
  `${markdownTable(rows)}\n\n${sum}\n`;

if (outFile) {
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, JSON.stringify({ date, card: info, versions, how, torch: { version: torch.torch, cuda: torch.cuda, device: torch.device, error: torch.error }, kernels: kstats, workloads: list, lathe, torch_results: torchResults }, null, 1));
  writeFileSync(outFile.replace(/\.json$/, '') + '.md', md);
  log(`wrote ${outFile} and its .md`);
}
if (!flag('--no-write')) {
  const path = join(here, '..', 'RESULTS.md');
  if (!existsSync(path)) writeFileSync(path, '# Benchmark results\n');
  appendFileSync(path, md);
  log(`appended to ${path}`);
}
