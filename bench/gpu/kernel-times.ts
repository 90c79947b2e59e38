// Device time per kernel of some queued work: an event is recorded after every launch (NVRTC
// kernels, cuBLAS GEMMs, copies and memsets), all of it queued behind a spin kernel so the
// host's pace stays out, and the gaps between events are summed per kernel name. Used by
// graph.ts (the decode step) and profile.ts (prefill, decode).
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { check, CU } from '../../src/backend/cuda/ffi/libcuda.js';
import { loadCublas } from '../../src/backend/cuda/ffi/libcublas.js';

const rt = () => cudaBackend.runtime;
const out64 = new BigUint64Array(1);
export const newEvent = (): bigint => { const d = rt().driver; check(d, d.cuEventCreate(out64, CU.EVENT_DEFAULT), 'cuEventCreate'); return out64[0]; };
export const record = (e: bigint): void => { const d = rt().driver; check(d, d.cuEventRecord(e, rt().stream), 'cuEventRecord'); };
export const elapsedMs = (a: bigint, b: bigint): number => { const f = new Float32Array(1); const d = rt().driver; check(d, d.cuEventElapsedTime(f, a, b), 'cuEventElapsedTime'); return f[0]; };

let spinFn: bigint | null = null;
/** Keeps the GPU busy for `ms` so the host can queue work behind it. */
export function spin(ms: number): void {
  spinFn ??= cudaBackend.kernelCache.get('bench|spin', () => ({
    name: 'bench_spin',
    source: `extern "C" __global__ void bench_spin(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do { __nanosleep(1000); asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); } while (t - t0 < ns);
}`,
  }));
  rt().args.reset().i64(Math.round(ms * 1e6));
  rt().launch(spinFn, [1, 1, 1], [1, 1, 1]);
}

export interface KernelTimes {
  /** Launches timed and the sum of their device times (ms). */
  count: number;
  total: number;
  /** Per kernel name: [ms, launches], largest first. */
  per: [string, number, number][];
  /** Every launch in order: [name, ms]. */
  sequence: [string, number][];
}

/**
 * Runs `work` (which queues GPU work and returns what to evaluate) with an event after every
 * launch, and returns the device time of each. `spinMs` must cover the host time of queuing it.
 */
export function kernelTimes(work: () => void, spinMs = 400, maxEvents = 8192): KernelTimes {
  const r = rt(), d = r.driver;
  const names = new Map<bigint, string>();
  const kc = cudaBackend.kernelCache as unknown as { get: (key: string, render: () => unknown) => bigint };
  const get = kc.get.bind(kc);
  kc.get = (key, render) => { const fn = get(key, render); names.set(fn, key.split('|').slice(0, 2).join('|')); return fn; };
  const events = Array.from({ length: maxEvents }, newEvent);
  const labels: string[] = [];
  let n = 0;
  const mark = (label: string) => { if (n < events.length) { record(events[n++]); labels.push(label); } };
  const launch = r.launch.bind(r);
  r.launch = (fn, grid, block, shared) => { launch(fn, grid, block, shared); mark(names.get(fn) ?? 'kernel'); };
  const blas = loadCublas();
  const wrap = <K extends string>(o: Record<K, unknown>, k: K, label: string) => {
    const f = o[k] as (...a: unknown[]) => unknown;
    o[k] = ((...a: unknown[]) => { const s = f(...a); mark(label); return s; }) as never;
    return () => { o[k] = f as never; };
  };
  const undo: (() => void)[] = [];
  if (!('error' in blas)) {
    const b = blas as unknown as Record<string, unknown>;
    for (const k of ['cublasGemmStridedBatchedEx', 'cublasGemmEx']) if (typeof b[k] === 'function') undo.push(wrap(b, k, `cublas ${k.slice(6)}`));
  }
  const dd = d as unknown as Record<string, unknown>;
  undo.push(wrap(dd, 'cuMemcpyDtoDAsync', 'copy'), wrap(dd, 'cuMemsetD8Async', 'memset'));
  try {
    r.synchronize();
    spin(spinMs);
    mark('start');
    work();
    mark('end');
    r.synchronize();
  } finally {
    r.launch = launch;
    kc.get = get;
    for (const u of undo) u();
  }
  const per = new Map<string, [number, number]>();
  const sequence: [string, number][] = [];
  let total = 0;
  for (let i = 1; i < n; i++) {
    if (labels[i] === 'end') break;
    const ms = elapsedMs(events[i - 1], events[i]);
    total += ms;
    sequence.push([labels[i], ms]);
    const p = per.get(labels[i]) ?? [0, 0];
    per.set(labels[i], [p[0] + ms, p[1] + 1]);
  }
  for (const e of events) d.cuEventDestroy(e);
  return { count: sequence.length, total, per: [...per.entries()].map(([k, [ms, c]]) => [k, ms, c] as [string, number, number]).sort((a, b) => b[1] - a[1]), sequence };
}

/** A few lines: the total, then the largest kernels. */
export function formatKernelTimes(t: KernelTimes, top = 20): string {
  return [`${t.count} launches, sum ${t.total.toFixed(3)} ms`,
    ...t.per.slice(0, top).map(([k, ms, c]) => `  ${k.padEnd(44)} ${ms.toFixed(3).padStart(8)} ms ${String(c).padStart(5)}x  ${((ms / c) * 1e3).toFixed(1).padStart(7)} us each`)].join('\n');
}
