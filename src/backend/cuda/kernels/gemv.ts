// Float matrix-vector products for a few rows of x: y (M, N) = x (M, K) @ W^T with W (N, K)
// row-major (a Linear's weight; a (K, 1) b is the same memory) and M <= 4: the decode step.
// cuBLAS's batch-1 GEMVs read small weights at a fraction of HBM bandwidth (0.3-2 TB/s below
// 32 MB on an H200); this kernel is built for bandwidth: a team of T threads owns one weight row, each
// thread issues all U of its 16-byte loads of a round before the first FMA (so a warp has
// U x 512 bytes in flight), halves become floats by shifts (bf16) or one cvt (f16), sums are
// float32, and the team meets through shuffles (and shared memory when T > 32). K is split
// only inside a block, never across blocks: deterministic and one launch (graph-friendly).
// The reference is the CPU's matmul (src/backend/cpu/kernels/linalg.ts), matched up to
// float32 summation order; matmul.ts calls runGemv before cuBLAS.
import type { DType } from '../../../core/dtype.js';
import type { KernelSource } from '../compiler.js';
import type { CudaContext } from '../backend.js';
import { PRELUDE, stype, store } from './ctypes.js';

/** Threads per block at most (the kernel's launch bound). */
const MAX_THREADS = 256;

export interface GemvSpec {
  /** x's, W's and y's dtype: float32, float16 or bfloat16. */
  dtype: DType;
  /** Rows of x (1 to 4). */
  mm: number;
  /** Threads per weight row (a power of two, 1 to 256); above 32 the warps meet in shared memory. */
  team: number;
  /** 16-byte weight loads each thread issues per round before computing. */
  unroll: number;
}

/** Weight loads through the non-coherent path without allocating in L1 (kept for x). */
const LOAD = String.raw`
#ifndef LATHE_GEMV_LD
#define LATHE_GEMV_LD
__device__ __forceinline__ Pack<u32, 4> gemv_ldw(const Pack<u32, 4>* p) {
  Pack<u32, 4> r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.v[0]), "=r"(r.v[1]), "=r"(r.v[2]), "=r"(r.v[3]) : "l"(p));
  return r;
}
#endif
`;

/** acc += w · x over one 16-byte chunk (raw words `w` and `x`) of dtype `d`. */
function dot(d: DType, acc: string, w: string, x: string): string {
  const terms: string[] = [];
  for (let i = 0; i < 4; i++) {
    const wi = `${w}.v[${i}]`, xi = `${x}.v[${i}]`;
    if (d.name === 'float32') terms.push(`${acc} = __fmaf_rn(__uint_as_float(${wi}), __uint_as_float(${xi}), ${acc});`);
    else if (d.name === 'bfloat16') terms.push(
      `${acc} = __fmaf_rn(__uint_as_float(${wi} << 16), __uint_as_float(${xi} << 16), ${acc});`,
      `${acc} = __fmaf_rn(__uint_as_float(${wi} & 0xffff0000u), __uint_as_float(${xi} & 0xffff0000u), ${acc});`);
    else terms.push(
      `${acc} = __fmaf_rn(ld_f16((u16)(${wi} & 0xffffu)), ld_f16((u16)(${xi} & 0xffffu)), ${acc});`,
      `${acc} = __fmaf_rn(ld_f16((u16)(${wi} >> 16)), ld_f16((u16)(${xi} >> 16)), ${acc});`);
  }
  return terms.join(' ');
}

/**
 * y (MM, N) = x (MM, K) @ W^T, W (N, K): C = K / (16 / size) chunks of 16 bytes per row.
 * Thread t of a team takes chunks t, t + T, ... in rounds of U (full rounds unpredicated,
 * one predicated tail round). Block: any multiple of T up to 256 threads, one row per team.
 */
export function renderGemv(name: string, p: GemvSpec): KernelSource {
  const { mm: MM, team: T, unroll: U } = p;
  const L = Math.min(T, 32), W = Math.max(1, T / 32);
  const s = stype(p.dtype);
  const round = (pred: boolean) => `
      Pack<u32, 4> q[U];
#pragma unroll
      for (int u = 0; u < U; u++) {
        ${pred ? 'if (c0 + u * T < C) q[u] = gemv_ldw(wr + c0 + u * T); else q[u].v[0] = q[u].v[1] = q[u].v[2] = q[u].v[3] = 0u;' : 'q[u] = gemv_ldw(wr + c0 + u * T);'}
      }
#pragma unroll
      for (int u = 0; u < U; u++) {
        ${pred ? 'if (c0 + u * T >= C) break;' : ''}
#pragma unroll
        for (int m = 0; m < MM; m++) {
          const Pack<u32, 4> xv = x[(i64)m * C + c0 + u * T];
          ${dot(p.dtype, 'acc[m]', 'q[u]', 'xv')}
        }
      }`;
  const source = `${PRELUDE}${LOAD}
extern "C" __global__ void __launch_bounds__(${MAX_THREADS}) ${name}(${s}* __restrict__ y, const Pack<u32, 4>* __restrict__ x, const Pack<u32, 4>* __restrict__ w, int N, int C) {
  constexpr int MM = ${MM}, T = ${T}, U = ${U};
  const int t = threadIdx.x % T;
  const int n = blockIdx.x * (blockDim.x / T) + threadIdx.x / T;
  float acc[MM];
#pragma unroll
  for (int m = 0; m < MM; m++) acc[m] = 0.0f;
  if (n < N) {
    const Pack<u32, 4>* wr = w + (i64)n * C;
    int c0 = t;
    for (; c0 + (U - 1) * T < C; c0 += U * T) {${round(false)}
    }
    if (c0 < C) {${round(true)}
    }
  }
  // Every lane shuffles (a warp may hold teams past N).
#pragma unroll
  for (int m = 0; m < MM; m++)
#pragma unroll
    for (int off = ${L / 2}; off > 0; off >>= 1) acc[m] += __shfl_xor_sync(LATHE_ALL, acc[m], off);
${W > 1 ? `  __shared__ float part[MM][${MAX_THREADS / 32}];
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) {
#pragma unroll
    for (int m = 0; m < MM; m++) part[m][warp] = acc[m];
  }
  __syncthreads();
  if (t == 0 && n < N) {
#pragma unroll
    for (int m = 0; m < MM; m++) {
      float v = part[m][warp];
#pragma unroll
      for (int j = 1; j < ${W}; j++) v += part[m][warp + j];
      y[(i64)m * N + n] = ${store('v', p.dtype)};
    }
  }` : `  if (t == 0 && n < N) {
#pragma unroll
    for (int m = 0; m < MM; m++) y[(i64)m * N + n] = ${store('acc[m]', p.dtype)};
  }`}
}
`;
  return { name, source };
}

// ---------------------------------------------------------------- launches

/** GEMV launches (tests and benchmarks check which path ran). */
export const gemvLaunches = { count: 0 };

/**
 * Switches and overrides, for benchmarks: `enabled` false sends every product to cuBLAS
 * (LATHE_CUDA_GEMV=0); `team` and `unroll` replace the chosen threads per row and loads per
 * round (0: chosen here).
 */
export const gemvTuning = { enabled: process.env.LATHE_CUDA_GEMV !== '0', team: 0, unroll: 0 };

const floorPow2 = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * Threads per row and per block for N rows of C chunks. Rows start with a warp each (fewer
 * threads for rows of under 32 chunks); rows are split further (up to 256 threads) while
 * the grid holds under ~1024 threads per SM and each thread keeps at least one full round
 * of U loads. Blocks shrink (to 64 threads, or one team) until there are 2 per SM, so
 * small N still spreads its loads over every SM.
 */
export function gemvShape(N: number, C: number, U: number, sms: number): { team: number; threads: number } {
  let team = Math.min(32, floorPow2(C));
  while (team < MAX_THREADS && N * team < sms * 1024 && C >= 2 * team * U) team *= 2;
  let threads = MAX_THREADS;
  while (threads > Math.max(team, 64) && Math.ceil(N / (threads / team)) < 2 * sms) threads /= 2;
  return { team, threads };
}

/**
 * y (rows, N) = x (rows, K) @ W^T (W (N, K) row-major, all dense) through the GEMV kernel
 * when it applies: 1 to 4 rows, float32/float16/bfloat16, K a whole number of 16-byte
 * chunks and both operands 16-byte aligned. Returns false to leave the product to cuBLAS.
 */
export function runGemv(ctx: CudaContext, y: bigint, x: bigint, w: bigint, rows: number, N: number, K: number, dtype: DType): boolean {
  if (!gemvTuning.enabled || rows < 1 || rows > 4) return false;
  if (dtype.name !== 'float32' && dtype.name !== 'float16' && dtype.name !== 'bfloat16') return false;
  const vec = 16 / dtype.size;
  if (K % vec !== 0 || ((x | w) & 15n) !== 0n) return false;
  const C = K / vec;
  const unroll = gemvTuning.unroll || 8;
  const shape = gemvShape(N, C, unroll, ctx.rt.info.sms);
  const team = gemvTuning.team || shape.team;
  const threads = gemvTuning.team ? Math.max(team, Math.min(MAX_THREADS, shape.threads)) : shape.threads;
  const fn = ctx.kernels.get(`gemv|${dtype.name}|${rows}|${team}|${unroll}`,
    () => renderGemv(`gemv_${dtype.name}_${rows}`, { dtype, mm: rows, team, unroll }));
  ctx.rt.args.reset().ptr(y).ptr(x).ptr(w).i32(N).i32(C);
  ctx.rt.launch(fn, [Math.ceil(N / (threads / team)), 1, 1], [threads, 1, 1]);
  gemvLaunches.count++;
  return true;
}
