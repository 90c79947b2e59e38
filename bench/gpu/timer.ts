// Timing for the lathe side of bench:gpu. On the GPU: CUDA events on lathe's stream around
// the evaluation, each repetition after a 256 MiB memset that flushes the L2 cache and keeps
// the GPU busy while the host queues the op (so host overhead stays out of device time, as
// in triton's do_bench; torch_bench.py does the same). Without a GPU (the --smoke check):
// the host clock.
import { cudaBackend } from '../../src/backend/cuda/index.js';
import { check, CU } from '../../src/backend/cuda/ffi/libcuda.js';

export interface Timer {
  /** How this timer measures, for the report. */
  readonly how: string;
  /**
   * Median milliseconds of `run(setup())` over `reps` runs after `warmup` runs; `setup`
   * (building the lazy graph, say) and `done` (disposing results) stay outside the clock.
   * `host` is the median time the host spent in `run` (queueing the work).
   */
  median<T>(setup: () => T, run: (t: T) => void, done: (t: T) => void): { ms: number; host: number };
  /** Waits for all queued device work. */
  sync(): void;
  close(): void;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function hostTimer(reps: number, warmup: number): Timer {
  return {
    how: 'host clock',
    median(setup, run, done) {
      const t: number[] = [];
      for (let i = 0; i < warmup + reps; i++) {
        const x = setup();
        const s = performance.now();
        run(x);
        if (i >= warmup) t.push(performance.now() - s);
        done(x);
      }
      return { ms: median(t), host: median(t) };
    },
    sync() {},
    close() {},
  };
}

const FLUSH_BYTES = 256 * 2 ** 20;

export function deviceTimer(reps: number, warmup: number): Timer {
  const rt = cudaBackend.runtime;
  const d = rt.driver;
  const ptr = new BigUint64Array(1);
  check(d, d.cuMemAlloc(ptr, FLUSH_BYTES), 'cuMemAlloc (L2 flush buffer)');
  const flush = ptr[0];
  const event = () => { check(d, d.cuEventCreate(ptr, CU.EVENT_DEFAULT), 'cuEventCreate'); return ptr[0]; };
  const start = event(), end = event();
  const elapsed = new Float32Array(1);
  const sync = () => rt.synchronize();
  return {
    how: `CUDA events, L2 flushed by a ${FLUSH_BYTES >> 20} MiB memset before each run`,
    median(setup, run, done) {
      for (let i = 0; i < warmup; i++) { const x = setup(); run(x); sync(); done(x); }
      const t: number[] = [], host: number[] = [];
      for (let i = 0; i < reps; i++) {
        const x = setup();
        check(d, d.cuMemsetD8Async(flush, i & 255, FLUSH_BYTES, rt.stream), 'cuMemsetD8Async');
        check(d, d.cuEventRecord(start, rt.stream), 'cuEventRecord');
        const h = performance.now();
        run(x);
        host.push(performance.now() - h);
        check(d, d.cuEventRecord(end, rt.stream), 'cuEventRecord');
        check(d, d.cuEventSynchronize(end), 'cuEventSynchronize');
        check(d, d.cuEventElapsedTime(elapsed, start, end), 'cuEventElapsedTime');
        t.push(elapsed[0]);
        done(x);
      }
      return { ms: median(t), host: median(host) };
    },
    sync,
    close() {
      sync();
      d.cuEventDestroy(start);
      d.cuEventDestroy(end);
      d.cuMemFree(flush);
    },
  };
}
