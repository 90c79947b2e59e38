// A small pool of worker threads that splits big generated loops with the main thread.
// A job is a generated kernel (its source goes to each worker once, compiled there in the
// same scope as here, see codegen.ts compileBody) applied to SharedArrayBuffer-backed
// arrays over chunks [start, end) of 0..total. Threads claim chunks from a shared counter
// (the main thread too), so a slow or still-starting worker only takes less work; the main
// thread then waits on the chunks in flight (Atomics.wait), and the evaluator stays
// synchronous. Workers are unref'd: an idle pool never keeps a process alive.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

/** Loops over fewer elements than this run on the main thread: a dispatch costs ~50 µs. */
export const PARALLEL_MIN = 1 << 17;
/** Elements per chunk of an elementwise loop: big enough to amortize a claim, small enough to balance. */
export const GRAIN = 1 << 15;

/** A compiled generated kernel and what a worker needs to compile the same one. */
export interface SharedKernel {
  key: string;
  /** Source of a function body taking the scope `H` and returning the kernel (codegen.ts compileBody). */
  body: string;
  /** The kernel as compiled on this thread. */
  fn: unknown;
}

/** What a worker receives: run `fn[entry](...args, start, end, chunk)` on claimed chunks. */
export interface JobMessage {
  key: string;
  body?: string;
  entry: string;
  args: unknown[];
  ctl: Int32Array;
  total: number;
  grain: number;
}

// ctl slots: next chunk to claim, chunks finished, a failure flag.
const NEXT = 0, DONE = 1, FAILED = 2;

type ChunkFn = (...args: unknown[]) => void;

export function entryOf(fn: unknown, entry: string): ChunkFn {
  return (entry ? (fn as Record<string, unknown>)[entry] : fn) as ChunkFn;
}

/** Claims and runs chunks until none are left; every claimed chunk counts as done, even one that threw. */
export function runChunks(ctl: Int32Array, fn: ChunkFn, args: unknown[], total: number, grain: number): void {
  const n = Math.ceil(total / grain);
  for (;;) {
    const c = Atomics.add(ctl, NEXT, 1);
    if (c >= n) return;
    try {
      fn(...args, c * grain, Math.min(total, (c + 1) * grain), c);
    } finally {
      Atomics.add(ctl, DONE, 1);
      Atomics.notify(ctl, DONE);
    }
  }
}

export function markFailed(ctl: Int32Array): void { Atomics.store(ctl, FAILED, 1); }

/** Inputs smaller than this may reach the workers as copies (scalars, small operands). */
const COPY_MAX = 1 << 16;

/**
 * Whether the workers can share `args`: the written arrays must live on SharedArrayBuffers
 * (a copy would take the writes), and the others too unless they are small.
 */
function shareable(args: unknown[], written: ArrayBufferView[]): boolean {
  const ok = (a: unknown): boolean => {
    if (Array.isArray(a)) return a.every(ok);
    if (!ArrayBuffer.isView(a) || a.buffer instanceof SharedArrayBuffer) return true;
    return !written.includes(a) && a.byteLength <= COPY_MAX;
  };
  return written.every((w) => w.buffer instanceof SharedArrayBuffer) && args.every(ok);
}

class ThreadPool {
  /** Threads working on a job, the main thread included (LATHE_CPU_THREADS caps it). */
  readonly size: number;
  private workers: Worker[] | null = null;
  private sent = new Set<string>();

  constructor() {
    const cap = Number(process.env.LATHE_CPU_THREADS);
    this.size = Math.max(1, Math.min(availableParallelism(), cap >= 1 ? Math.floor(cap) : Infinity));
  }

  /** Whether a job of `total` elements is worth splitting. */
  worthIt(total: number): boolean { return this.size > 1 && total >= PARALLEL_MIN; }

  /**
   * Runs `entry` of `kernel` over [0, total) in chunks of `grain`, on this thread and the
   * workers; `args` go before (start, end, chunk) and `written` lists those it writes.
   * Arrays not on SharedArrayBuffers reach a worker as copies, so a job writing one (or
   * reading a big one) runs here alone.
   */
  run(kernel: SharedKernel, entry: string, args: unknown[], written: ArrayBufferView[], total: number, grain = GRAIN): void {
    const fn = entryOf(kernel.fn, entry);
    const ctl = new Int32Array(new SharedArrayBuffer(12));
    const workers = this.size > 1 && total > grain && shareable(args, written) ? this.start() : [];
    if (workers.length) {
      const msg: JobMessage = { key: kernel.key, entry, args, ctl, total, grain };
      if (!this.sent.has(kernel.key)) { msg.body = kernel.body; this.sent.add(kernel.key); }
      for (const w of workers) w.postMessage(msg);
    }
    const n = Math.ceil(total / grain);
    let claimed = n;
    try {
      runChunks(ctl, fn, args, total, grain);
    } catch (e) {
      // Stop handing out chunks, wait for those already running elsewhere, then report.
      claimed = Math.min(n, Atomics.exchange(ctl, NEXT, n));
      this.wait(ctl, claimed);
      throw e;
    }
    this.wait(ctl, claimed);
    // A worker failed where this thread did not: redo the job here (it throws if the kernel does).
    if (Atomics.load(ctl, FAILED)) for (let c = 0; c < n; c++) fn(...args, c * grain, Math.min(total, (c + 1) * grain), c);
  }

  /** Resolves once every worker runs jobs (they take a while to start): for benchmarks. */
  async ready(): Promise<void> {
    const workers = this.size > 1 ? this.start() : [];
    // A pending waitAsync does not keep the event loop alive, and the workers are unref'd:
    // hold a timer until they answer, or the process could exit mid-await.
    const alive = setInterval(() => {}, 1000);
    try { await this.answered(workers); } finally { clearInterval(alive); }
  }

  private async answered(workers: Worker[]): Promise<void> {
    await Promise.all(workers.map(async (w) => {
      const ctl = new Int32Array(new SharedArrayBuffer(12));
      w.postMessage({ key: 'ready', body: 'return () => {}', entry: '', args: [], ctl, total: 1, grain: 1 } satisfies JobMessage);
      // Atomics.waitAsync is in Node 20 but not in this project's TypeScript lib.
      const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: unknown } }).waitAsync;
      const r = waitAsync(ctl, DONE, 0, 30_000);
      if (r.async) await r.value;
    }));
  }

  private wait(ctl: Int32Array, chunks: number): void {
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done >= chunks) return;
      if (Atomics.wait(ctl, DONE, done, 60_000) === 'timed-out' && Atomics.load(ctl, DONE) === done)
        throw new Error('[cpu] a worker thread stopped responding for 60 s; set LATHE_CPU_THREADS=1 to run on one thread');
    }
  }

  private start(): Worker[] {
    if (this.workers) return this.workers;
    this.workers = [];
    const spawn = workerFactory();
    if (!spawn) return this.workers;
    for (let i = 1; i < this.size; i++) {
      const w = spawn();
      w.unref();
      // A worker that cannot start or dies leaves the pool: its chunks go to the others.
      const drop = () => { this.workers = this.workers?.filter((x) => x !== w) ?? null; };
      w.on('error', drop);
      w.on('exit', drop);
      this.workers.push(w);
    }
    return this.workers;
  }
}

/**
 * Starts worker.js next to this file; run from TypeScript sources (tsx), a worker does not
 * inherit the loader, so it registers tsx first. Null where neither is possible.
 */
function workerFactory(): (() => Worker) | null {
  if (!import.meta.url.endsWith('.ts')) return () => new Worker(new URL('./worker.js', import.meta.url));
  let tsx: string;
  try { tsx = import.meta.resolve('tsx/esm/api'); } catch { return null; }
  const entry = new URL('./worker.ts', import.meta.url).href;
  const src = `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return () => new Worker(src, { eval: true });
}

export const threads = new ThreadPool();
