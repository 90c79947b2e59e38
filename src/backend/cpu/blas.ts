// Matrix products on the CPU: cblas_sgemm / cblas_dgemm from a system BLAS (OpenBLAS,
// Accelerate) called through koffi when one loads, else the portable kernel in gemm.ts.
// Loading is lazy and never throws: no koffi, no library, or LATHE_NO_BLAS=1 all mean
// the portable kernel. LATHE_BLAS=/path/to/lib picks a library. LATHE_BATCH_INVARIANT=1
// makes results independent of the batch size (see gemm below).
import { portableGemm, invariantGemm, GemmFn, Floats } from './gemm.js';

export type { GemmFn, Floats };

const ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

const candidates = [
  'libopenblas.so.0', 'libopenblas.so', '/usr/lib/x86_64-linux-gnu/libopenblas.so.0', '/usr/lib/aarch64-linux-gnu/libopenblas.so.0',
  '/System/Library/Frameworks/Accelerate.framework/Accelerate', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
  'libopenblas.dll', 'libcblas.so.3', 'libblas.so.3',
];

type Cblas = (order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number,
  a: Floats, lda: number, b: Floats, ldb: number, beta: number, c: Floats, ldc: number) => void;

interface Blas { name: string; sgemm: Cblas; dgemm: Cblas; setThreads?: (n: number) => void; threads: number }
/** Below this many multiply-adds, OpenBLAS's thread start-up costs more than it saves. */
const SMALL_GEMM = 1 << 20;
let blas: Blas | null | undefined;

function env(name: string): string | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
}

function loadBlas(): Blas | null {
  if (env('LATHE_NO_BLAS') === '1') return null;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process;
    const mod = proc?.getBuiltinModule?.('node:module') as { createRequire(url: string): (id: string) => unknown } | undefined;
    if (!mod) return null;
    const koffi = mod.createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(sig: string): (...args: never[]) => unknown };
    };
    const paths = env('LATHE_BLAS') ? [env('LATHE_BLAS')!] : candidates;
    for (const path of paths) {
      try {
        const lib = koffi.load(path);
        const sig = (t: string, f: string) => `void ${f}(int, int, int, int, int, int, ${t}, const ${t} *, int, const ${t} *, int, ${t}, ${t} *, int)`;
        const found: Blas = { name: path, sgemm: lib.func(sig('float', 'cblas_sgemm')) as Cblas, dgemm: lib.func(sig('double', 'cblas_dgemm')) as Cblas, threads: 0 };
        try {
          const get = lib.func('int openblas_get_num_threads()') as () => number;
          found.setThreads = lib.func('void openblas_set_num_threads(int)') as (n: number) => void;
          found.threads = get();
        } catch { /* not OpenBLAS: leave its threading alone */ }
        return found;
      } catch { /* try the next one */ }
    }
  } catch { /* koffi missing or unusable */ }
  return null;
}

/** The BLAS library in use, or null when the portable kernel runs. */
export function blasLibrary(): string | null {
  if (blas === undefined) blas = loadBlas();
  return blas?.name ?? null;
}

/** C = alpha op(A) op(B) + beta C on float32 or float64 storage (all four of one type). */
export const gemm: GemmFn = (tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  if (M === 0 || N === 0) return;
  // LATHE_BATCH_INVARIANT=1 (read per call, so a server can turn it on at start): BLAS picks
  // kernels by shape, so a row's result changes with the number of rows; the portable
  // kernel's invariant path computes every row the same way (batched greedy = solo greedy).
  if (env('LATHE_BATCH_INVARIANT') === '1') {
    invariantGemm(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  if (blas === undefined) blas = loadBlas();
  if (!blas || K === 0) {
    portableGemm(tA, tB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
    return;
  }
  const f = C instanceof Float32Array ? blas.sgemm : blas.dgemm;
  const small = blas.setThreads && blas.threads > 1 && M * N * K < SMALL_GEMM;
  if (small) blas.setThreads!(1);
  // BLAS wants leading dimensions of at least one row, even for thin operands.
  f(ROW_MAJOR, tA ? TRANS : NO_TRANS, tB ? TRANS : NO_TRANS, M, N, K, alpha,
    A.subarray(aOff), Math.max(lda, 1), B.subarray(bOff), Math.max(ldb, 1), beta, C.subarray(cOff), Math.max(ldc, 1));
  if (small) blas.setThreads!(blas.threads);
};
