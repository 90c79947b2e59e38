// `npm run bench:cpu`: lathe's CPU backend beside NumPy on this machine. Prints one table
// (median of REPS runs after warm-up) and appends it to bench/RESULTS.md with the date and
// machine. `npm run bench:cpu -- --no-write` only prints. BENCH_REPS sets the repetitions.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { cpus, platform, arch } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import { threads } from '../../src/backend/cpu/pool.js';

const REPS = Number(process.env.BENCH_REPS ?? 7);
const here = dirname(fileURLToPath(import.meta.url));
const ops = mx as unknown as Record<string, unknown>;
const has = (...names: string[]) => names.every((n) => typeof ops[n] === 'function');

interface Row {
  name: string;        // key shared with numpy_bench.py
  op: string;
  size: string;
  /** Builds the lazy result from the prepared inputs. */
  run?: () => mx.Array;
  /** Largest acceptable lathe/numpy time ratio (none: the row is a reference for another). */
  target?: number;
  /** For the compiled chain: how many times faster than the eager chain it must be. */
  speedup?: number;
  flops?: number;
}

function medianMs(fn: () => void, reps = REPS, warmup = 2): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[t.length >> 1];
}

mx.setDefaultDevice(mx.cpu); // a CPU benchmark, also where a GPU backend loads
const key = (k: number) => mx.random.key(k);
const N = 10_000_000;
const a = mx.random.normal([N], mx.float32, null, null, key(0));
const b = mx.random.normal([N], mx.float32, null, null, key(1));
const cond = mx.greater(a, 0);
const m = mx.random.normal([1024, 1024], mx.float32, null, null, key(2));
const n = mx.random.normal([1024, 1024], mx.float32, null, null, key(3));
const c = mx.random.normal([1_000_000], mx.float32, null, null, key(4));
mx.eval(a, b, cond, m, n, c);
await threads.ready(); // workers take a moment to start: not part of any timing

/** Ten elementwise ops, as in numpy_bench.py. */
function chain(x: mx.Array): mx.Array {
  let y = mx.multiply(x, 1.5);
  y = mx.add(y, 0.25);
  y = mx.tanh(y);
  y = mx.multiply(y, y);
  y = mx.subtract(y, 0.5);
  y = mx.abs(y);
  y = mx.sqrt(y);
  y = mx.exp(mx.negative(y));
  y = mx.multiply(y, x);
  return mx.add(y, 1);
}
/** Ten arithmetic elementwise ops (no transcendental functions), as in numpy_bench.py. */
function arithChain(x: mx.Array): mx.Array {
  let y = mx.multiply(x, 1.5);
  y = mx.add(y, 0.25);
  y = mx.maximum(y, -1);
  y = mx.multiply(y, y);
  y = mx.subtract(y, 0.5);
  y = mx.abs(y);
  y = mx.minimum(y, 4);
  y = mx.divide(y, 3);
  y = mx.multiply(y, x);
  return mx.add(y, 1);
}
const compiledArith = has('compile') ? (ops.compile as (f: (x: mx.Array) => mx.Array) => (x: mx.Array) => mx.Array)(arithChain) : null;
const compiled = has('compile') ? (ops.compile as (f: (x: mx.Array) => mx.Array) => (x: mx.Array) => mx.Array)(chain) : null;
const matmul = ops.matmul as ((x: mx.Array, y: mx.Array) => mx.Array) | undefined;
const argmax = ops.argmax as ((x: mx.Array) => mx.Array) | undefined;

// The issues' targets: add, exp, where, sum and argmax at least half NumPy's speed (time
// ratio ≤ 2, issue [core]); matmul at least 80% of NumPy's GFLOP/s with a BLAS (ratio ≤
// 1.25); a compiled chain of ten elementwise ops at least 3x faster than eager (issue
// [transforms]). docs/cpu-performance.md says what limits each.
const rows: Row[] = [
  { name: 'matmul', op: 'matmul f32', size: '1024³', run: matmul && (() => matmul(m, n)), target: 1.25, flops: 2 * 1024 ** 3 },
  { name: 'add', op: 'add f32', size: '1e7', run: () => mx.add(a, b), target: 2 },
  { name: 'exp', op: 'exp f32', size: '1e7', run: () => mx.exp(a), target: 2 },
  { name: 'where', op: 'where f32', size: '1e7', run: () => mx.where(cond, a, b), target: 2 },
  { name: 'sum', op: 'sum f32', size: '1e7', run: () => mx.sum(a), target: 2 },
  { name: 'argmax', op: 'argmax f32', size: '1e7', run: argmax && (() => argmax(a)), target: 2 },
  { name: 'chain', op: '10-op chain, eager', size: '1e6', run: () => chain(c) },
  { name: 'chain', op: '10-op chain, compiled', size: '1e6', run: compiled ? () => compiled(c) : undefined, speedup: 3 },
  { name: 'chain_arith', op: '10-op arithmetic chain, eager', size: '1e6', run: () => arithChain(c) },
  { name: 'chain_arith', op: '10-op arithmetic chain, compiled', size: '1e6', run: compiledArith ? () => compiledArith(c) : undefined, speedup: 3 },
];

function timeLathe(run: () => mx.Array): number {
  return medianMs(() => { const r = run(); mx.eval(r); r.dispose(); });
}

function timeNumpy(): { version: string; results: Record<string, number> } | string {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE; // both slow OpenBLAS down on these machines
  delete env.OPENBLAS_L2_SIZE;
  const p = spawnSync('python3', [join(here, 'numpy_bench.py'), String(REPS)], { env, encoding: 'utf8' });
  if (p.status !== 0) return `numpy unavailable: ${(p.stderr || p.error?.message || '').trim().split('\n').pop()}`;
  const out = JSON.parse(p.stdout) as { numpy: string; results: Record<string, number> };
  return { version: out.numpy, results: out.results };
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));

const np = timeNumpy();
const table: string[][] = [['op', 'size', 'lathe ms', 'numpy ms', 'lathe/numpy', 'target', 'met?', 'note']];
let eagerChain: number | undefined;
for (const r of rows) {
  const ms = r.run ? timeLathe(r.run) : undefined;
  const ref = typeof np === 'string' ? undefined : np.results[r.name];
  const ratio = ms !== undefined && ref !== undefined ? ms / ref : undefined;
  let note = r.run ? '' : 'op not available';
  if (r.flops && ms && ref) note = `GFLOP/s: lathe ${fmt(r.flops / ms / 1e6)}, numpy ${fmt(r.flops / ref / 1e6)}`;
  if (r.op.endsWith('eager')) eagerChain = ms;
  const speedup = r.speedup && ms && eagerChain ? eagerChain / ms : undefined;
  if (speedup !== undefined) note = `${fmt(speedup)}x faster than eager`;
  const target = r.target !== undefined ? `ratio ≤ ${r.target}x` : r.speedup ? `≥ ${r.speedup}x eager` : '–';
  const met = r.target !== undefined ? (ratio === undefined ? '–' : ratio <= r.target ? 'yes' : 'NO')
    : r.speedup ? (speedup === undefined ? '–' : speedup >= r.speedup ? 'yes' : 'NO') : '–';
  table.push([r.op, r.size, fmt(ms), fmt(ref), ratio === undefined ? 'n/a' : `${fmt(ratio, 2)}x`, target, met, note]);
}

const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
const line = (row: string[]) => row.map((cell, j) => (j >= 2 && j <= 5 ? cell.padStart(widths[j]) : cell.padEnd(widths[j]))).join('  ').trimEnd();
const cpu = cpus();
const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores, lathe on ${threads.size} threads), ${platform()} ${arch()}, Node ${process.version}, ${typeof np === 'string' ? np : `NumPy ${np.version}`}`;
console.log(`lathe CPU vs NumPy: ${machine}; median of ${REPS} runs\n`);
console.log(line(table[0]));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table.slice(1)) console.log(line(row));

if (!process.argv.includes('--no-write')) {
  const path = join(here, '..', 'RESULTS.md');
  if (!existsSync(path)) writeFileSync(path, '# Benchmark results\n\nAppended by `npm run bench:cpu` (lathe CPU backend beside NumPy on the same machine).\n');
  const md = (row: string[]) => `| ${row.join(' | ')} |`;
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  appendFileSync(path, `\n## ${date} UTC: ${machine}, median of ${REPS}\n\n${md(table[0])}\n${md(table[0].map(() => '---'))}\n${table.slice(1).map(md).join('\n')}\n`);
  console.log(`\nappended to ${path}`);
}
