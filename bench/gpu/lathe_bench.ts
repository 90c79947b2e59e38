// The lathe side of bench:gpu: each workload of workloads.ts timed on the default device
// (the GPU; the CPU for --smoke). Device ops are timed as `mx.eval` of a freshly built
// graph over inputs made once; a workload whose primitive has no kernel gives its error.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mx from '../../src/index.js';
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { check } from '../../src/backend/cuda/ffi/libcuda.js';
import { median, Timer } from './timer.js';
import type { Dt, Spec, Workload } from './workloads.js';

/** A median time; `hostMs`: the host's time queueing a device op (past `ms`, the op is host-bound). */
export type Measured = { ms: number; hostMs?: number; note?: string } | { error: string };

const here = dirname(fileURLToPath(import.meta.url));
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const dtypeOf = (d: Dt) => (d === 'float32' ? mx.float32 : mx.bfloat16);

/** Values in [-1, 1] that are neither zero nor regular (zeros can run faster than real data). */
function filled(shape: number[], dtype: Dt): mx.Array {
  const n = prod(shape);
  // The remainder keeps the float32 products exact enough to stay irregular at 2^26 and past.
  const x = mx.sin(mx.multiply(mx.remainder(mx.arange(n), 1_000_003), 0.7311));
  const y = mx.reshape(dtype === 'float32' ? x : mx.astype(x, dtypeOf(dtype)), shape);
  mx.eval(y);
  return y;
}

/** Builds the op's lazy result from inputs made once; `free` disposes the inputs. */
function prepare(spec: Spec): { build: () => mx.Array; free: () => void } {
  switch (spec.kind) {
    case 'elementwise': {
      const a = filled([spec.n], spec.dtype), b = filled([spec.n], spec.dtype);
      const op = spec.op === 'exp' ? () => mx.exp(a) : spec.op === 'add' ? () => mx.add(a, b) : () => mx.multiply(a, b);
      return { build: op, free: () => { a.dispose(); b.dispose(); } };
    }
    case 'reduce': {
      const x = filled(spec.shape, 'float32');
      const f = spec.op === 'sum' ? mx.sum : spec.op === 'max' ? mx.max : null;
      return { build: () => (f ? f(x, spec.axis) : mx.argmax(x, spec.axis)), free: () => x.dispose() };
    }
    case 'softmax': {
      const x = filled(spec.shape, 'float32');
      return { build: () => mx.softmax(x, spec.axis), free: () => x.dispose() };
    }
    case 'matmul': {
      const a = filled([spec.M, spec.K], spec.dtype), b = filled([spec.K, spec.N], spec.dtype);
      return { build: () => mx.matmul(a, b), free: () => { a.dispose(); b.dispose(); } };
    }
    case 'transpose': {
      const x = filled(spec.shape, spec.dtype);
      return { build: () => mx.transpose(x, spec.axes), free: () => x.dispose() };
    }
    case 'slice': {
      const x = filled(spec.shape, spec.dtype);
      return { build: () => mx.stridedSlice(x, spec.start, spec.stop, spec.step), free: () => x.dispose() };
    }
    default:
      throw new Error(`[bench] no device op for ${spec.kind}`);
  }
}

function timeOp(timer: Timer, spec: Spec): Measured {
  const { build, free } = prepare(spec);
  try {
    const { ms, host } = timer.median(build, (r) => mx.eval(r), (r) => r.dispose());
    return { ms, hostMs: host };
  } finally {
    free();
    mx.clearCache(); // sizes differ from one workload to the next: keep the cache from piling up
  }
}

/** The card's device-to-device copy, through the driver on lathe's stream (lathe's own dense copies use it too). */
function timeCopy(timer: Timer, n: number, dtype: Dt): Measured {
  const rt = cudaBackend.runtime, d = rt.driver;
  const bytes = n * dtypeOf(dtype).size;
  const p = new BigUint64Array(1);
  check(d, d.cuMemAlloc(p, bytes), 'cuMemAlloc');
  const src = p[0];
  check(d, d.cuMemAlloc(p, bytes), 'cuMemAlloc');
  const dst = p[0];
  try {
    check(d, d.cuMemsetD8Async(src, 0x3c, bytes, rt.stream), 'cuMemsetD8Async');
    const { ms } = timer.median(() => null, () => check(d, d.cuMemcpyDtoDAsync(dst, src, bytes, rt.stream), 'cuMemcpyDtoDAsync'), () => {});
    return { ms };
  } finally {
    rt.synchronize();
    d.cuMemFree(src);
    d.cuMemFree(dst);
  }
}

/** Host time per op: n chained tiny adds, evaluated once or after each add, then a device sync. */
function timeLaunch(timer: Timer, n: number, evalEach: boolean): Measured {
  const x = mx.full([16], 1.5, mx.float32);
  mx.eval(x);
  const once = () => {
    let y = x;
    for (let i = 0; i < n; i++) {
      const z = mx.add(y, 1);
      if (evalEach) { mx.eval(z); if (y !== x) y.dispose(); }
      y = z;
    }
    mx.eval(y);
    timer.sync();
    y.dispose();
  };
  once(); // warm-up: the kernel is compiled
  const t: number[] = [];
  for (let r = 0; r < 7; r++) {
    const s = performance.now();
    once();
    t.push((performance.now() - s) / n);
  }
  x.dispose();
  return { ms: median(t) };
}

/** A fresh process's first result (see first_call.ts), with LATHE_CACHE_DIR empty, then filled by that run. */
function timeFirstCalls(): Record<'cold' | 'warm', Measured> {
  const dir = mkdtempSync(join(tmpdir(), 'lathe-cache-'));
  const once = (): Measured => {
    const p = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'first_call.ts')], { env: { ...process.env, LATHE_CACHE_DIR: dir }, encoding: 'utf8' });
    if (p.status !== 0) return { error: (p.stderr || p.error?.message || 'failed').trim().split('\n').slice(-1)[0] };
    const r = JSON.parse(p.stdout.trim().split('\n').pop()!) as { importMs: number; firstMs: number; compiled: number; diskHits: number };
    return { ms: r.importMs + r.firstMs, note: `import ${r.importMs.toFixed(0)} ms + first result ${r.firstMs.toFixed(0)} ms; ${r.compiled} kernels compiled, ${r.diskHits} from disk` };
  };
  try {
    const cold = once();
    return { cold, warm: once() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Times every workload; `onGpu` false runs the device ops on the CPU (smoke check) and skips GPU-only rows. */
export function benchLathe(list: Workload[], timer: Timer, onGpu: boolean, log: (line: string) => void): Record<string, Measured> {
  const out: Record<string, Measured> = {};
  const first = list.some((w) => w.spec.kind === 'firstCall') && onGpu ? timeFirstCalls() : null;
  for (const w of list) {
    const s = w.spec;
    try {
      if (s.kind === 'launch') out[w.key] = timeLaunch(timer, s.n, s.evalEach);
      else if (s.kind === 'firstCall') out[w.key] = first ? first[s.cache] : { error: 'needs the GPU' };
      else if (s.kind === 'copy') out[w.key] = onGpu ? timeCopy(timer, s.n, s.dtype) : { error: 'needs the GPU' };
      else out[w.key] = timeOp(timer, s);
    } catch (e) {
      out[w.key] = { error: firstLine(e) };
    }
    const r = out[w.key];
    log(`lathe  ${w.label}: ${'ms' in r ? `${r.ms.toFixed(4)} ms` : `n/a (${r.error})`}`);
  }
  return out;
}
