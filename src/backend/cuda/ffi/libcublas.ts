// cuBLAS, bound through koffi: strided-batched GEMMs for the float dtypes.
import { openLibrary, bind, CFn } from './load.js';

const decls = {
  cublasCreate: 'int cublasCreate_v2(_Out_ uint64_t *handle)',
  cublasSetStream: 'int cublasSetStream_v2(uint64_t handle, uint64_t stream)',
  cublasGetStatusString: 'const char *cublasGetStatusString(int status)',
  cublasGemmStridedBatchedEx: 'int cublasGemmStridedBatchedEx(uint64_t handle, int transa, int transb, int m, int n, int k, ' +
    'uint64_t alpha, uint64_t A, int Atype, int lda, int64_t strideA, uint64_t B, int Btype, int ldb, int64_t strideB, ' +
    'uint64_t beta, uint64_t C, int Ctype, int ldc, int64_t strideC, int batchCount, int computeType, int algo)',
} as const;

// Bound apart: a cuBLAS without them still runs strided-batched GEMMs (matmul.ts checks).
const optional = {
  cublasGemmEx: 'int cublasGemmEx(uint64_t handle, int transa, int transb, int m, int n, int k, ' +
    'uint64_t alpha, uint64_t A, int Atype, int lda, uint64_t B, int Btype, int ldb, uint64_t beta, uint64_t C, int Ctype, int ldc, int computeType, int algo)',
  cublasSetWorkspace: 'int cublasSetWorkspace_v2(uint64_t handle, uint64_t workspace, size_t bytes)',
} as const;

export type Cublas = Record<keyof typeof decls, CFn> & Partial<Record<keyof typeof optional, CFn>>;

/** cudaDataType, cublasComputeType_t, cublasOperation_t and cublasGemmAlgo_t values. */
export const CUBLAS = {
  R_16F: 2, R_32F: 0, R_16BF: 14,
  COMPUTE_32F: 68, COMPUTE_32F_FAST_TF32: 77,
  OP_N: 0, OP_T: 1,
  GEMM_DEFAULT: -1,
} as const;

let cublas: Cublas | null = null;

export function loadCublas(): Cublas | { error: string } {
  if (cublas) return cublas;
  const names = ['libcublas.so', 'libcublas.so.13', 'libcublas.so.12'];
  // Loading cuBLASLt first lets a cuBLAS found by full path resolve it by name.
  openLibrary(names.map((n) => n.replace('libcublas', 'libcublasLt')));
  const opened = openLibrary(names);
  if ('error' in opened) return { error: `cuBLAS missing (libcublas.so; set LATHE_CUDA_LIB_DIR to its folder): ${opened.error}` };
  try {
    const c = bind(opened.lib, decls) as Cublas;
    for (const [name, proto] of Object.entries(optional) as [keyof typeof optional, string][]) {
      try { c[name] = opened.lib.func(proto) as CFn; } catch { /* older cuBLAS: strided-batched only */ }
    }
    cublas = c;
    return cublas;
  } catch (e) {
    return { error: `cuBLAS at ${opened.path} is unusable: ${(e as Error).message}` };
  }
}
