// Matrix products. Float dtypes go to cuBLAS (fp32, optionally TF32, fp16 and bf16 with fp32
// accumulation): cublasGemmEx for one product and strided-batched GEMMs for several, with a
// 32 MiB workspace, as torch calls it on Hopper (so cuBLAS picks the same kernels, split-K
// ones included); integers and bools use a small tiled kernel that wraps like C integers.
// Row-major products are computed as the column-major product C^T = B^T A^T, so no operand
// is transposed.
import type { DType } from '../../../core/dtype.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, cudaBackend } from '../backend.js';
import { loadCublas, Cublas, CUBLAS } from '../ffi/libcublas.js';
import { check, getKoffi } from '../ffi/libcuda.js';
import type { Runtime } from '../runtime.js';
import { PRELUDE, ctype, stype, load, store } from './ctypes.js';
import { copyStrided } from './copy.js';
import { runGemv } from './gemv.js';
import { broadcastStrides, sizeOf } from './layout.js';
import type { MatmulParams } from '../../../core/ops/matmul.js';

interface Blas { lib: Cublas; handle: bigint; stream: bigint; alpha: bigint; beta: bigint; workspace: { ptr: bigint; bytes: number } }
/** One cuBLAS handle per CUDA stream: a handle's workspace must not be used by two streams at once. */
const handles = new Map<bigint, Blas>();
let blas: Blas | null = null;

/** Choices bench/gpu/variants.ts compares. */
export const matmulTuning = {
  /** One product (batch 1) through cublasGemmEx instead of strided-batched with batch 1. */
  gemmEx: true,
  /** Bytes of the cuBLAS workspace lathe sets (0: leave cuBLAS's own); torch sets 32 MiB on Hopper. */
  workspace: 32 << 20,
};

/** Gives cuBLAS a workspace of `bytes` (its own memory, outside the allocator, as torch's). */
function setWorkspace(rt: Runtime, b: Blas, bytes: number): void {
  if (b.workspace.bytes === bytes || !b.lib.cublasSetWorkspace) return;
  const d = rt.driver;
  if (b.workspace.ptr) { rt.synchronize(); d.cuMemFree(b.workspace.ptr); b.workspace = { ptr: 0n, bytes: 0 }; }
  if (bytes > 0) {
    const p = new BigUint64Array(1);
    if (d.cuMemAlloc(p, bytes) !== 0) return; // no memory to spare: cuBLAS's default stays
    b.workspace = { ptr: p[0], bytes };
  }
  b.lib.cublasSetWorkspace(b.handle, b.workspace.ptr, b.workspace.bytes);
}

function cublas(rt: Runtime): Blas {
  if (blas && blas.stream === rt.stream) return blas;
  const had = handles.get(rt.stream);
  if (had) return (blas = had);
  const lib = loadCublas();
  if ('error' in lib) throw new Error(`[matmul] ${lib.error}`);
  const h = new BigUint64Array(1);
  const status = lib.cublasCreate(h) as number;
  if (status !== 0) throw new Error(`[matmul] cublasCreate failed: ${String(lib.cublasGetStatusString(status))}`);
  lib.cublasSetStream(h[0], rt.stream);
  // alpha = 1 and beta = 0 live in stable native memory (cuBLAS reads them during the call).
  const k = getKoffi()!;
  const scalars = k.alloc('float', 2) as bigint;
  new Float32Array(k.view(scalars, 8)).set([1, 0]);
  blas = { lib, handle: h[0], stream: rt.stream, alpha: scalars, beta: scalars + 4n, workspace: { ptr: 0n, bytes: 0 } };
  handles.set(rt.stream, blas);
  return blas;
}

const cudaType: Partial<Record<string, number>> = { float32: CUBLAS.R_32F, float16: CUBLAS.R_16F, bfloat16: CUBLAS.R_16BF };

export interface GemmArgs {
  /** C (batch, M, N) = A (batch, M, K) @ B (batch, K, N), row-major; a stride of 0 broadcasts an operand. */
  a: bigint; b: bigint; c: bigint;
  M: number; N: number; K: number;
  strideA: number; strideB: number; strideC: number;
  batch: number;
  dtype: DType;
  /** Whether A is stored (batch, K, M) / B stored (batch, N, K), to be used transposed. */
  transA?: boolean; transB?: boolean;
  /** Row strides (elements) of A, B and C as stored, when not their dense widths (views into wider rows). */
  lda?: number; ldb?: number; ldc?: number;
  /** C's dtype when it differs from the operands' (float32 results of half operands). */
  cDtype?: DType;
  /** C += A @ B instead of C = A @ B. */
  accumulate?: boolean;
}

/** One strided-batched GEMM through cuBLAS on the backend's stream (cublasGemmEx when batch is 1). */
export function gemm(rt: Runtime, g: GemmArgs): void {
  const b = cublas(rt);
  const { lib, handle, alpha, beta } = b;
  setWorkspace(rt, b, matmulTuning.workspace);
  const t = cudaType[g.dtype.name], tc = cudaType[(g.cDtype ?? g.dtype).name];
  if (t === undefined || tc === undefined) throw new Error(`[matmul] cuBLAS GEMMs take float16, bfloat16 or float32, got ${g.dtype.name}`);
  const compute = g.dtype.name === 'float32' && cudaBackend.allowTF32 ? CUBLAS.COMPUTE_32F_FAST_TF32 : CUBLAS.COMPUTE_32F;
  // Column-major view: C^T (N x M) = op(B)^T (N x K) op(A)^T (K x M).
  const opB = g.transB ? CUBLAS.OP_T : CUBLAS.OP_N, opA = g.transA ? CUBLAS.OP_T : CUBLAS.OP_N;
  const ldb = g.ldb ?? (g.transB ? g.K : g.N), lda = g.lda ?? (g.transA ? g.M : g.K);
  const one = g.batch === 1 && matmulTuning.gemmEx && lib.cublasGemmEx;
  // Handles and pointers go to koffi as numbers (converted faster than BigInts; all fit in 53 bits).
  const status = (one
    ? lib.cublasGemmEx!(Number(handle), opB, opA, g.N, g.M, g.K, Number(alpha), Number(g.b), t, ldb, Number(g.a), t, lda,
      Number(g.accumulate ? alpha : beta), Number(g.c), tc, g.ldc ?? g.N, compute, CUBLAS.GEMM_DEFAULT)
    : lib.cublasGemmStridedBatchedEx(handle, opB, opA, g.N, g.M, g.K, alpha,
      g.b, t, ldb, g.strideB, g.a, t, lda, g.strideA, g.accumulate ? alpha : beta, g.c, tc, g.ldc ?? g.N, g.strideC, g.batch, compute, CUBLAS.GEMM_DEFAULT)) as number;
  if (status !== 0)
    throw new Error(`[matmul] ${one ? 'cublasGemmEx' : 'cublasGemmStridedBatchedEx'} failed for (${g.batch}, ${g.M}, ${g.K}) @ (${g.K}, ${g.N}) ${g.dtype.name}: ${String(lib.cublasGetStatusString(status))} (${status})`);
}

export function renderIntGemm(name: string, d: DType): KernelSource {
  const source = `${PRELUDE}
#define TILE 16
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(d)}* __restrict__ c, const ${stype(d)}* __restrict__ a, const ${stype(d)}* __restrict__ b,
    int M, int N, int K, i64 sa, i64 sb, int batch) {
  __shared__ ${ctype(d)} ta[TILE][TILE + 1], tb[TILE][TILE + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
  for (int z = blockIdx.z; z < batch; z += gridDim.z) {
    const ${stype(d)}* A = a + z * sa;
    const ${stype(d)}* B = b + z * sb;
    ${ctype(d)} acc = 0;
    for (int k0 = 0; k0 < K; k0 += TILE) {
      ta[ty][tx] = (row < M && k0 + tx < K) ? ${load('A[(i64)row * K + k0 + tx]', d)} : (${ctype(d)})0;
      tb[ty][tx] = (k0 + ty < K && col < N) ? ${load('B[(i64)(k0 + ty) * N + col]', d)} : (${ctype(d)})0;
      __syncthreads();
#pragma unroll
      for (int k = 0; k < TILE; k++) acc = wadd(acc, wmul(ta[ty][k], tb[k][tx]));
      __syncthreads();
    }
    if (row < M && col < N) c[(i64)z * M * N + (i64)row * N + col] = ${store('acc', d)};
  }
}
#undef TILE
`;
  return { name, source };
}

/** An operand's device pointer and batch stride, materializing a partially broadcast batch. */
function operand(ctx: CudaContext, x: CudaArg, batch: number[], rows: number, cols: number): { ptr: bigint; stride: number } {
  const n = sizeOf(x.shape.slice(0, -2));
  const total = sizeOf(batch);
  if (n === 1) return { ptr: x.buf.ptr, stride: total === 1 ? rows * cols : 0 };
  if (n === total) return { ptr: x.buf.ptr, stride: rows * cols };
  const full = [...batch, rows, cols];
  const tmp = ctx.temp(sizeOf(full) * x.dtype.size);
  copyStrided(ctx, x.dtype.size, tmp.ptr, 0, null, x.buf.ptr, 0, broadcastStrides(x.shape, full), full);
  return { ptr: tmp.ptr, stride: rows * cols };
}

const matmul: CudaKernel = ([a, b], [out], { transposeA: tA = false, transposeB: tB = false }: MatmulParams, ctx) => {
  const o = ctx.alloc(out);
  const nd = out.shape.length;
  const M = out.shape[nd - 2], N = out.shape[nd - 1], K = a.shape[a.shape.length - (tA ? 2 : 1)];
  const batchShape = out.shape.slice(0, -2);
  let batch = sizeOf(batchShape);
  if (batch * M * N === 0) return [o];
  const d = ctx.rt.driver;
  if (K === 0) {
    check(d, d.cuMemsetD8Async(o.ptr, 0, o.nbytes, ctx.rt.stream), 'cuMemsetD8Async');
    return [o];
  }
  // Operands as stored: (M, K) or (K, M) for a, (K, N) or (N, K) for b.
  const A = operand(ctx, a, batchShape, a.shape[nd - 2], a.shape[nd - 1]), B = operand(ctx, b, batchShape, b.shape[nd - 2], b.shape[nd - 1]);
  let rows = M;
  // A shared B: the batch folds into the rows of one GEMM (when a's matrices are row-major).
  if (B.stride === 0 && A.stride !== 0 && !tA) { rows = M * batch; batch = 1; }
  if (out.dtype.isFloat) {
    // Few rows of x against a Linear's (N, K) weight (a (K, 1) b is one such row): the
    // bandwidth-bound GEMV (gemv.ts).
    if (batch === 1 && (tB || N === 1) && !tA && runGemv(ctx, o.ptr, A.ptr, B.ptr, rows, N, K, out.dtype)) return [o];
    gemm(ctx.rt, { a: A.ptr, b: B.ptr, c: o.ptr, M: rows, N, K, strideA: A.stride, strideB: B.stride, strideC: rows * N, batch, dtype: out.dtype, transA: tA, transB: tB });
    return [o];
  }
  if (tA || tB) throw new Error('[matmul] integer products take row-major operands (the op does not fold transposes for them)');
  const fn = ctx.kernels.get(`igemm|${out.dtype.name}`, () => renderIntGemm(`gemm_${out.dtype.name}`, out.dtype));
  ctx.rt.args.reset().ptr(o.ptr).ptr(A.ptr).ptr(B.ptr).i32(rows).i32(N).i32(K).i64(A.stride).i64(B.stride).i32(batch);
  ctx.rt.launch(fn, [Math.ceil(N / 16), Math.ceil(rows / 16), Math.min(batch, 65535)], [16, 16, 1]);
  return [o];
};

registerCudaKernels({ matmul });
